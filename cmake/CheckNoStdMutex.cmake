# Run by ctest (the no_std_mutex test, common/CMakeLists.txt): cmake -DSOURCE_DIR=... -P this file.
# Fails if a source file outside common/base/ uses a std:: mutex, lock or condition variable
# directly: those carry no thread-safety attributes, so what they guard would go unchecked. Use
# common/base/mutex.h instead. (Comments count too; name the type another way in prose.)
if(NOT DEFINED SOURCE_DIR)
  message(FATAL_ERROR "CheckNoStdMutex.cmake: SOURCE_DIR is not set")
endif()
set(pattern "std::(mutex|shared_mutex|recursive_mutex|timed_mutex|shared_timed_mutex|lock_guard|unique_lock|scoped_lock|shared_lock|condition_variable)")
file(GLOB_RECURSE sources RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/*.h ${SOURCE_DIR}/*.cc)
set(found "")
foreach(f ${sources})
  if(f MATCHES "^(build|common/base)/" OR f MATCHES "(^|/)\\.")
    continue()
  endif()
  file(STRINGS ${SOURCE_DIR}/${f} hits REGEX "${pattern}")
  foreach(line ${hits})
    string(APPEND found "${f}: ${line}\n")
  endforeach()
endforeach()
if(found)
  message(FATAL_ERROR "std:: locking primitives outside common/base/ (use hw::Mutex, MutexLock, "
                      "CondVar, SharedMutex from common/base/mutex.h):\n${found}")
endif()
