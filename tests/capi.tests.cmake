# C API tests (included by tests/CMakeLists.txt). The test_capi_*.cpp executables made by the
# glob link the static C++ library; here they are relinked against libliteai.so only, so they
# test the exported ABI exactly as a user sees it.
file(GLOB capi_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_capi_*.cpp)
foreach(src IN LISTS capi_tests)
  get_filename_component(name ${src} NAME_WE)
  set_property(TARGET ${name} PROPERTY LINK_LIBRARIES liteai_shared Catch2::Catch2 Threads::Threads)
  set_property(TARGET ${name} PROPERTY INCLUDE_DIRECTORIES ${PROJECT_SOURCE_DIR}/capi ${CMAKE_CURRENT_SOURCE_DIR})
endforeach()

# The plain C example: phantoms -> train -> save/reload -> predict -> ProbMat/WPM -> Hough.
if(TARGET liteai_c_example)
  add_test(NAME capi_c_example COMMAND liteai_c_example ${CMAKE_CURRENT_BINARY_DIR}/tmp/c_example)
  set_tests_properties(capi_c_example PROPERTIES TIMEOUT 300)
endif()

# Python ctypes wrapper (examples/python): with numpy arrays, and again with numpy disabled.
# Debian's numpy is seen by /usr/bin/python3. An ASan-built libliteai.so can only be loaded into
# Python with LD_PRELOAD of libasan, so the sanitized build skips this test.
find_program(LITEAI_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(LITEAI_SANITIZE)
  message(STATUS "capi: Python ctypes test skipped under LITEAI_SANITIZE (ASan runtime not preloadable into python)")
elseif(NOT LITEAI_SYSTEM_PYTHON)
  message(STATUS "capi: /usr/bin/python3 not found, Python ctypes test skipped")
else()
  foreach(variant numpy nonumpy)
    add_test(NAME capi_python_${variant}
             COMMAND ${LITEAI_SYSTEM_PYTHON} ${PROJECT_SOURCE_DIR}/examples/python/test_liteai.py
                     ${CMAKE_CURRENT_BINARY_DIR}/tmp/python_${variant})
    set(env "LITEAI_LIBRARY=$<TARGET_FILE:liteai_shared>")
    if(variant STREQUAL "nonumpy")
      list(APPEND env "LITEAI_PYTHON_NO_NUMPY=1")
    endif()
    set_tests_properties(capi_python_${variant} PROPERTIES ENVIRONMENT "${env}" TIMEOUT 300)
  endforeach()
endif()
