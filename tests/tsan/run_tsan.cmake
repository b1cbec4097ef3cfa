# cmake -DSRC=tests/tsan -DWORK=dir -DCC=clang-14 -DCXX=clang++-14 -P run_tsan.cmake
# Builds tests/capi/test_capi_threads.cpp, tests/unit/data/test_data_loader.cpp and the library
# with -fsanitize=thread and runs them; any data race report fails. The library pool runs with one thread (LITEAI_NUM_THREADS=1) so the
# only concurrency is the callers' threads on shared handles (what the C API promises), and
# oneTBB's uninstrumented internals cannot produce false reports.
set(build ${WORK}/build)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
if(NOT EXISTS ${build}/CMakeCache.txt)
  run(${CMAKE_COMMAND} -S ${SRC} -B ${build} -DCMAKE_C_COMPILER=${CC} -DCMAKE_CXX_COMPILER=${CXX})
endif()
run(${CMAKE_COMMAND} --build ${build} --target tsan_tests -j2)
file(MAKE_DIRECTORY ${WORK}/tmp)
set(ENV{LITEAI_NUM_THREADS} 1)
set(ENV{LITEAI_TEST_TMP} ${WORK}/tmp)
set(ENV{TSAN_OPTIONS} "halt_on_error=1:second_deadlock_stack=1")
run(${build}/test_capi_threads_tsan)
message(STATUS "test_capi_threads passed under ThreadSanitizer")
run(${build}/test_data_loader_tsan)
message(STATUS "test_data_loader passed under ThreadSanitizer")
