# Every third-party dependency comes from Debian's packages (scripts/install-deps.sh installs them).
# Each is exposed as an imported target so folder CMakeLists only name targets.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CURL REQUIRED)

pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
# Vectorscan (Debian) and Hyperscan share the libhs name and API.
pkg_check_modules(HS REQUIRED IMPORTED_TARGET libhs)

if(HW_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# Static or shared. An executable made with hw_executable(... STATIC_DEPS) (the agents, which run on
# every host and have RSS goals) links protobuf, yaml-cpp, re2, Vectorscan and libzmq with its own
# dependencies from Debian's static archives, so that only the code it calls is mapped (most of
# a process's start-up RSS is pages of shared libraries touched by relocation and static init:
# docs/collector.md "Benchmark"). Everything else links the shared libraries as before. The
# switch is the head target's HW_STATIC_DEPS property, read while its link line is generated, so
# the libraries in between (hostwatch_common, hostwatch_proto) are built once for both.
# libstdc++, spdlog and fmt stay shared: Debian has no static spdlog or fmt, and a static
# libstdc++ next to a shared library that loads the shared one would be two C++ runtimes.
set(_hw_static_dep "$<BOOL:$<TARGET_PROPERTY:HW_STATIC_DEPS>>")
function(_hw_dep name shared)
  cmake_parse_arguments(ARG "" "" "STATIC;STATIC_SYSTEM" ${ARGN})
  set(archives)
  foreach(lib ${ARG_STATIC})
    find_library(HW_STATIC_${lib} NAMES lib${lib}.a)
    if(NOT HW_STATIC_${lib})
      message(FATAL_ERROR "lib${lib}.a not found (scripts/install-deps.sh installs it)")
    endif()
    list(APPEND archives ${HW_STATIC_${lib}})
  endforeach()
  add_library(${name} INTERFACE)
  target_link_libraries(${name} INTERFACE "$<$<NOT:${_hw_static_dep}>:${shared}>")
  foreach(item ${archives} ${ARG_STATIC_SYSTEM})
    target_link_libraries(${name} INTERFACE "$<${_hw_static_dep}:${item}>")
  endforeach()
  # The static variant compiles exactly as the shared one (its include dirs, -pthread, defines).
  set(s "$<${_hw_static_dep}:$<TARGET_PROPERTY:${shared},INTERFACE_")
  target_include_directories(${name} SYSTEM INTERFACE "${s}INCLUDE_DIRECTORIES>>")
  target_compile_options(${name} INTERFACE "${s}COMPILE_OPTIONS>>")
  target_compile_definitions(${name} INTERFACE "${s}COMPILE_DEFINITIONS>>")
  target_link_options(${name} INTERFACE "${s}LINK_OPTIONS>>")
endfunction()

_hw_dep(hw_protobuf protobuf::libprotobuf STATIC protobuf)
_hw_dep(hw_yaml_cpp yaml-cpp STATIC yaml-cpp)
_hw_dep(hw_re2 PkgConfig::RE2 STATIC re2)
_hw_dep(hw_hs PkgConfig::HS STATIC hs)
# libzmq.a needs what `pkg-config --static --libs libzmq` lists; of those, only GSSAPI (MIT krb5,
# no static archive in Debian) stays shared. norm's libxml2 and ICU are not referenced by the
# parts libzmq uses, so they are left out (Debian has no static ICU either).
_hw_dep(hw_zmq_lib PkgConfig::ZMQ STATIC zmq sodium pgm norm protokit bsd md
        STATIC_SYSTEM gssapi_krb5 Threads::Threads)

# cppzmq is header-only (zmq.hpp) on top of libzmq.
find_path(CPPZMQ_INCLUDE_DIR zmq.hpp REQUIRED)
add_library(hw_zmq INTERFACE)
target_include_directories(hw_zmq INTERFACE ${CPPZMQ_INCLUDE_DIR})
target_link_libraries(hw_zmq INTERFACE hw_zmq_lib)
