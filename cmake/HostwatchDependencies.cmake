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
pkg_check_modules(HS IMPORTED_TARGET libhs)

if(HW_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# cppzmq is header-only (zmq.hpp) on top of libzmq.
find_path(CPPZMQ_INCLUDE_DIR zmq.hpp REQUIRED)
add_library(hw_zmq INTERFACE)
target_include_directories(hw_zmq INTERFACE ${CPPZMQ_INCLUDE_DIR})
target_link_libraries(hw_zmq INTERFACE PkgConfig::ZMQ)
