# Run by ctest (the thread_safety_check test, common/CMakeLists.txt):
#   cmake -DCOMPILER=... -DFLAGS=a|b|c -DSOURCE=... -P CheckThreadSafety.cmake
# Compiles SOURCE twice with the project's compiler and warning flags ('|' separates FLAGS, as ';'
# would split the test's command line): as it is, which must succeed, and with
# -DHW_THREAD_SAFETY_VIOLATION, which must fail with a -Wthread-safety diagnostic. The first compile
# proves that the second fails because of the violation and nothing else.
foreach(var COMPILER FLAGS SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "CheckThreadSafety.cmake: ${var} is not set")
  endif()
endforeach()
string(REPLACE "|" ";" flags "${FLAGS}")

execute_process(
  COMMAND ${COMPILER} ${flags} -fsyntax-only ${SOURCE}
  RESULT_VARIABLE clean_rc OUTPUT_VARIABLE clean_out ERROR_VARIABLE clean_out)
if(NOT clean_rc EQUAL 0)
  message(FATAL_ERROR "the correctly locked code does not compile:\n${clean_out}")
endif()

execute_process(
  COMMAND ${COMPILER} ${flags} -DHW_THREAD_SAFETY_VIOLATION -fsyntax-only ${SOURCE}
  RESULT_VARIABLE bad_rc OUTPUT_VARIABLE bad_out ERROR_VARIABLE bad_out)
if(bad_rc EQUAL 0)
  message(FATAL_ERROR "an unguarded write to a GUARDED_BY member compiled; the thread-safety "
                      "analysis is not making violations errors:\n${bad_out}")
endif()
if(NOT bad_out MATCHES "error: [^\n]*requires holding mutex[^\n]*-Wthread-safety")
  message(FATAL_ERROR "the violation failed to compile, but not with a thread-safety error:\n"
                      "${bad_out}")
endif()
message(STATUS "the violation is refused as it should be:\n${bad_out}")
