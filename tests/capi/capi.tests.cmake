# C API tests. Each test_capi_*.cpp links libliteai.so only, so it tests the exported ABI exactly
# as a user sees it.
set(here ${CMAKE_CURRENT_LIST_DIR})
file(GLOB capi_tests CONFIGURE_DEPENDS ${here}/test_capi_*.cpp)
foreach(src IN LISTS capi_tests)
  get_filename_component(name ${src} NAME_WE)
  liteai_catch_test(${name} ${src} LIBS liteai_shared)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/capi ${here})
endforeach()
# The DICOM functions read phantom DICOMs written by tests/support/make_dicom_files (a build
# without DCMTK has none: the test then checks that every lai_dicom_* says NOT_SUPPORTED).
if(TARGET make_dicom_files)
  target_compile_definitions(test_capi_dicom PRIVATE LITEAI_MAKE_DICOM_FILES="$<TARGET_FILE:make_dicom_files>")
  add_dependencies(test_capi_dicom make_dicom_files)
endif()

# The C API against the C++ API in one program: the C API objects linked statically beside the
# C++ modules, so a test can compare each C function with the C++ function it translates.
liteai_catch_test(capi_crosscheck ${here}/capi_crosscheck.cpp LIBS liteai stb::stb TBB::tbb)
target_sources(capi_crosscheck PRIVATE $<TARGET_OBJECTS:liteai_capi_obj>)
target_include_directories(capi_crosscheck PRIVATE ${PROJECT_SOURCE_DIR}/capi ${here})

# The plain C example: phantoms -> train -> save/reload -> predict -> ProbMat/WPM -> Hough.
if(TARGET liteai_c_example)
  add_test(NAME capi_c_example COMMAND liteai_c_example ${LITEAI_TEST_TMP}/c_example)
  set_tests_properties(capi_c_example PROPERTIES TIMEOUT 300)
endif()

# The Python package (bindings/python): with numpy arrays, and again with numpy disabled.
# Debian's numpy is seen by /usr/bin/python3. An ASan-built libliteai.so can only be loaded into
# Python with LD_PRELOAD of libasan, so the sanitized build skips this test.
find_program(LITEAI_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(LITEAI_SANITIZE)
  message(STATUS "capi: Python tests skipped under LITEAI_SANITIZE (ASan runtime not preloadable into python)")
elseif(NOT LITEAI_SYSTEM_PYTHON)
  message(STATUS "capi: /usr/bin/python3 not found, Python tests skipped")
else()
  foreach(variant numpy nonumpy)
    add_test(NAME capi_python_${variant}
             COMMAND ${LITEAI_SYSTEM_PYTHON} ${PROJECT_SOURCE_DIR}/bindings/python/tests/test_liteai.py
                     ${LITEAI_TEST_TMP}/python_${variant})
    # The layout programs of tests/abi: the ctypes structures are checked against the header.
    set(layouts "$<TARGET_FILE:capi_abi_layout_new>:$<TARGET_FILE:capi_abi_layout_0_2_new>:$<TARGET_FILE:capi_abi_layout_0_3_new>")
    set(env "LITEAI_LIBRARY=$<TARGET_FILE:liteai_shared>" "PYTHONPATH=${PROJECT_SOURCE_DIR}/bindings/python"
            "LITEAI_ABI_LAYOUTS=${layouts}")
    if(variant STREQUAL "nonumpy")
      list(APPEND env "LITEAI_PYTHON_NO_NUMPY=1")
    endif()
    if(TARGET make_dicom_files)  # phantom DICOMs for the DICOM tests
      list(APPEND env "LITEAI_MAKE_DICOM_FILES=$<TARGET_FILE:make_dicom_files>")
    endif()
    set_tests_properties(capi_python_${variant} PROPERTIES ENVIRONMENT "${env}" TIMEOUT 300)
  endforeach()
endif()

# Examples that check what they show (Release only: they train real models for a minute or two).
if(NOT LITEAI_SANITIZE AND TARGET federated_sites)
  add_test(NAME example_federated COMMAND federated_sites ${LITEAI_TEST_TMP}/example_federated)
  set_tests_properties(example_federated PROPERTIES TIMEOUT 900 ENVIRONMENT "LITEAI_NUM_THREADS=2")
endif()
# The senafas example, small: seconds, so in the sanitized build too.
if(TARGET senafas_compare)
  add_test(NAME example_senafas COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:senafas_compare>
                                        -P ${CMAKE_CURRENT_LIST_DIR}/run_example_senafas.cmake)
  set_tests_properties(example_senafas PROPERTIES TIMEOUT 300 ENVIRONMENT "LITEAI_NUM_THREADS=2")
endif()
