# One helper per kind of target, so that each folder's CMakeLists.txt is a few lines:
#   hw_library(NAME SOURCES ... DEPS ...)          a static library with the project's warnings
#   hw_executable(NAME SOURCES ... DEPS ... [STATIC_DEPS])
#                                                   a daemon or tool binary (thin main.cc);
#                                                   STATIC_DEPS: see HostwatchDependencies.cmake
#   hw_test(NAME SOURCES ... DEPS ... [LABELS ...]) a GoogleTest binary registered with ctest
#                                                   (label "unit" unless told otherwise)

set(HW_WARNINGS -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual
                -Wimplicit-fallthrough -Wformat=2)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # Clang is the compiler that checks the GUARDED_BY / REQUIRES annotations
  # (common/base/thread_annotations.h). A violation is an error even without HW_WERROR: it is a
  # data race the compiler has proven, not a matter of style. -beta adds the checks clang still
  # calls experimental; the tree passes them too.
  list(APPEND HW_WARNINGS -Wthread-safety -Wthread-safety-beta -Werror=thread-safety
       -Werror=thread-safety-beta)
endif()
if(HW_WERROR)
  list(APPEND HW_WARNINGS -Werror)
endif()

if(HW_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

function(_hw_apply_common target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${HW_WARNINGS}>)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

function(hw_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  _hw_apply_common(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

function(hw_executable name)
  cmake_parse_arguments(ARG "STATIC_DEPS" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  _hw_apply_common(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  if(ARG_STATIC_DEPS)
    set_target_properties(${name} PROPERTIES HW_STATIC_DEPS ON)
    # Only the archive members (and, where they were compiled with one section per function, the
    # functions) that are reached get linked; --as-needed drops shared libraries nothing calls.
    target_link_options(${name} PRIVATE LINKER:--gc-sections LINKER:--as-needed)
  endif()
endfunction()

function(hw_test name)
  if(NOT HW_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  _hw_apply_common(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
  # Test binaries find the daemons they spawn and the repo's fixtures through these.
  target_compile_definitions(${name} PRIVATE
    HW_BINARY_DIR="${PROJECT_BINARY_DIR}" HW_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
