# End-to-end tests of the `liteai` command (tools/), included by tests/CMakeLists.txt: one
# CMake script per workflow (tests/cli/run_cli_<name>.cmake, run with `cmake -P`) that runs the
# program on small SYNTHETIC phantoms it generates itself and checks what it prints and writes
# (see run_cli_common.cmake). Registered in both the normal and the sanitized build; they
# need LITEAI_BUILD_TOOLS (the default).
if(NOT TARGET liteai_cli)
  message(STATUS "cli tests skipped: the liteai command is not built (LITEAI_BUILD_TOOLS=OFF)")
  return()
endif()
# CMake scripts cannot write arbitrary bytes, FIFOs or locks: this helper makes the damaged and
# hostile files of cli_errors and cli_hostile.
add_executable(cli_test_corrupt ${CMAKE_CURRENT_LIST_DIR}/cli_test_corrupt.cpp)
target_link_libraries(cli_test_corrupt PRIVATE liteai_io ZLIB::ZLIB)
set(workflows classify probmat anomaly som hough demo errors hostile distill trust repack explain roi)
if(TARGET liteai_interop_onnx)
  list(APPEND workflows onnx)
endif()
# The demo runs the C example predictor when the build has it (examples/c).
set(c_predict "")
if(TARGET liteai_c_predict)
  set(c_predict $<TARGET_FILE:liteai_c_predict>)
endif()
foreach(workflow IN LISTS workflows)
  add_test(NAME cli_${workflow}
           COMMAND ${CMAKE_COMMAND} -DLITEAI=$<TARGET_FILE:liteai_cli> -DCORRUPT=$<TARGET_FILE:cli_test_corrupt>
                   -DC_PREDICT=${c_predict}
                   -DWORK=${LITEAI_TEST_TMP}/cli_${workflow} -DEXAMPLES=${PROJECT_SOURCE_DIR}/examples
                   -P ${CMAKE_CURRENT_LIST_DIR}/run_cli_${workflow}.cmake)
  # Two threads whatever the machine: the same bits on every run (determinism is per thread count).
  set_tests_properties(cli_${workflow} PROPERTIES TIMEOUT 600 LABELS cli ENVIRONMENT "LITEAI_NUM_THREADS=2")
endforeach()
# DICOM in and out (phantom DICOMs from tests/support/make_dicom_files); skipped without DCMTK.
set(dicom_files "")
if(TARGET make_dicom_files)
  set(dicom_files $<TARGET_FILE:make_dicom_files>)
endif()
add_test(NAME cli_dicom
         COMMAND ${CMAKE_COMMAND} -DLITEAI=$<TARGET_FILE:liteai_cli> -DDICOM_FILES=${dicom_files}
                 -DWORK=${LITEAI_TEST_TMP}/cli_dicom -P ${CMAKE_CURRENT_LIST_DIR}/run_cli_dicom.cmake)
set_tests_properties(cli_dicom PROPERTIES TIMEOUT 600 LABELS cli ENVIRONMENT "LITEAI_NUM_THREADS=2"
                     SKIP_REGULAR_EXPRESSION "CLI_TEST_SKIPPED")
# Real data (Fashion-MNIST IDX files): ~3 s here, but minutes under the sanitizers' unoptimized
# kernels, so the normal build only; reported as skipped when the Debian dataset is absent.
if(NOT LITEAI_SANITIZE)
  add_test(NAME cli_mnist
           COMMAND ${CMAKE_COMMAND} -DLITEAI=$<TARGET_FILE:liteai_cli> -DWORK=${LITEAI_TEST_TMP}/cli_mnist
                   -P ${CMAKE_CURRENT_LIST_DIR}/run_cli_mnist.cmake)
  set_tests_properties(cli_mnist PROPERTIES TIMEOUT 600 LABELS cli ENVIRONMENT "LITEAI_NUM_THREADS=2"
                       SKIP_REGULAR_EXPRESSION "CLI_TEST_SKIPPED")
endif()
# Data-parallel training over MPI: `mpirun --oversubscribe -np 2` on loopback against one rank;
# in a build without MPI, the clear error of --distributed.
add_executable(cli_compare_models ${CMAKE_CURRENT_LIST_DIR}/cli_compare_models.cpp)
target_link_libraries(cli_compare_models PRIVATE liteai_nn)
if(TARGET liteai_interop_mpi AND LITEAI_MPIEXEC)
  set(have_mpi ON)
else()
  set(have_mpi OFF)
endif()
add_test(NAME cli_distributed
         COMMAND ${CMAKE_COMMAND} -DLITEAI=$<TARGET_FILE:liteai_cli> -DHAVE_MPI=${have_mpi} -DMPIEXEC=${LITEAI_MPIEXEC}
                 -DSANITIZED=${LITEAI_SANITIZE}
                 -DCOMPARE=$<TARGET_FILE:cli_compare_models> -DWORK=${LITEAI_TEST_TMP}/cli_distributed
                 -P ${CMAKE_CURRENT_LIST_DIR}/run_cli_distributed.cmake)
# Open MPI refuses root without these; one thread per rank (the ranks share the cores).
# Under the sanitizers the MPI runs are skipped (Open MPI's own allocations at exit are not ours to
# report): the Release build runs them.
set_tests_properties(cli_distributed PROPERTIES TIMEOUT 600 LABELS cli SKIP_REGULAR_EXPRESSION "CLI_TEST_SKIPPED" ENVIRONMENT
                     "LITEAI_NUM_THREADS=1;OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_btl_vader_single_copy_mechanism=none")
# The demo's report opened in headless Chromium: not blank, every picture loads, the figures in the
# page equal metrics.json (check_demo_report.py; skipped without chromium or Python 3).
find_program(LITEAI_REPORT_PYTHON NAMES python3)
if(LITEAI_REPORT_PYTHON)
  add_test(NAME cli_demo_report
           COMMAND ${LITEAI_REPORT_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_demo_report.py $<TARGET_FILE:liteai_cli>
                   ${LITEAI_TEST_TMP}/cli_demo_report)
  set_tests_properties(cli_demo_report PROPERTIES TIMEOUT 600 LABELS cli ENVIRONMENT "LITEAI_NUM_THREADS=2"
                       SKIP_RETURN_CODE 77)
else()
  message(STATUS "cli_demo_report skipped: python3 not found")
endif()
