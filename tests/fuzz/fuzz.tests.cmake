# Clang-built checks of the C API, each a standalone build of the whole library (several minutes
# on 2 cores the first time; ccache makes reruns quick):
#   fuzz_smoke  every tests/fuzz/fuzz_*.cpp with libFuzzer+ASan+UBSan (one per reader: model files,
#               ProbMat/SOM/autoencoder/senafas files, images, .npy, CSV manifests, JSON, IDX/gzip),
#               seeded by make_seeds.c, LITEAI_FUZZ_SECONDS (default 10) per target, known crashers
#               in tests/fuzz/regressions/<target>/ replayed first. A nightly-length run:
#                 LITEAI_FUZZ_SECONDS=3600 ctest --test-dir build -R fuzz_smoke
#               (the corpus grows in build/tests/fuzz/corpus/ across runs; a crash leaves its input
#               in build/tests/fuzz/artifacts/: copy it to regressions/<target>/ with the fix)
#   capi_tsan   tests/capi/test_capi_threads.cpp and tests/unit/data/test_data_loader.cpp under
#               ThreadSanitizer
# Registered in the normal build only (the sanitized pass would repeat them) and only when
# clang-14 is installed; -DLITEAI_CLANG_CHECKS=OFF turns them off.
find_program(LITEAI_CLANG NAMES clang-14 clang)
find_program(LITEAI_CLANGXX NAMES clang++-14 clang++)
option(LITEAI_CLANG_CHECKS "Fuzz smoke test and ThreadSanitizer test of the C API (needs clang)" ON)
if(LITEAI_CLANG_CHECKS AND NOT LITEAI_SANITIZE)
  if(LITEAI_CLANG AND LITEAI_CLANGXX)
    add_test(NAME fuzz_smoke
             COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_CURRENT_LIST_DIR} -DWORK=${CMAKE_CURRENT_BINARY_DIR}/fuzz
                     -DCC=${LITEAI_CLANG} -DCXX=${LITEAI_CLANGXX} -DSECONDS=10
                     -P ${CMAKE_CURRENT_LIST_DIR}/run_fuzz.cmake)
    add_test(NAME capi_tsan
             COMMAND ${CMAKE_COMMAND} -DSRC=${PROJECT_SOURCE_DIR}/tests/tsan -DWORK=${CMAKE_CURRENT_BINARY_DIR}/tsan
                     -DCC=${LITEAI_CLANG} -DCXX=${LITEAI_CLANGXX} -P ${PROJECT_SOURCE_DIR}/tests/tsan/run_tsan.cmake)
    set_tests_properties(fuzz_smoke capi_tsan PROPERTIES TIMEOUT 1800)
  else()
    message(STATUS "clang not found: fuzz_smoke and capi_tsan tests skipped (apt install clang-14)")
  endif()
endif()
