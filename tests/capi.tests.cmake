# C API tests (included by tests/CMakeLists.txt). The test_capi_*.cpp executables made by the
# glob link the static C++ library; here they are relinked against libliteai.so only, so they
# test the exported ABI exactly as a user sees it.
file(GLOB capi_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_capi_*.cpp)
foreach(src IN LISTS capi_tests)
  get_filename_component(name ${src} NAME_WE)
  set_property(TARGET ${name} PROPERTY LINK_LIBRARIES liteai_shared Catch2::Catch2 Threads::Threads)
  set_property(TARGET ${name} PROPERTY INCLUDE_DIRECTORIES ${PROJECT_SOURCE_DIR}/capi ${CMAKE_CURRENT_SOURCE_DIR})
endforeach()

# The C API against the C++ API in one program: the C API objects linked statically beside the
# C++ modules, so a test can compare each C function with the C++ function it translates.
add_executable(capi_crosscheck ${CMAKE_CURRENT_SOURCE_DIR}/capi_crosscheck.cpp $<TARGET_OBJECTS:liteai_catch_main>
                               $<TARGET_OBJECTS:liteai_capi_obj>)
target_link_libraries(capi_crosscheck PRIVATE liteai Catch2::Catch2 stb::stb TBB::tbb Threads::Threads)
target_include_directories(capi_crosscheck PRIVATE ${PROJECT_SOURCE_DIR}/capi ${CMAKE_CURRENT_SOURCE_DIR})
add_test(NAME capi_crosscheck COMMAND capi_crosscheck)
set_tests_properties(capi_crosscheck PROPERTIES ENVIRONMENT "LITEAI_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp")

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

# ABI checks: exported symbols against capi/abi/liteai.symbols; v0.1 struct layouts and enum
# values unchanged; a program built against the frozen v0.1 header runs against this library.
set(abi ${PROJECT_SOURCE_DIR}/capi/abi)
add_test(NAME capi_abi_symbols
         COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:liteai_shared> -DLIST=${abi}/liteai.symbols
                 -DHEADER=${PROJECT_SOURCE_DIR}/capi/liteai.h -P ${abi}/check_symbols.cmake)
add_custom_target(capi_abi_update
                  COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:liteai_shared> -DLIST=${abi}/liteai.symbols
                          -DHEADER=${PROJECT_SOURCE_DIR}/capi/liteai.h -DUPDATE=1 -P ${abi}/check_symbols.cmake
                  DEPENDS liteai_shared)
# Struct layouts: a program built against a frozen header must agree with the current one on
# every struct of that version (sizes, offsets, enum values).
function(capi_abi_layout_test name source frozen)
  foreach(v old new)
    add_executable(${name}_${v} ${abi}/${source})
    set_target_properties(${name}_${v} PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)
  endforeach()
  target_include_directories(${name}_old PRIVATE ${abi}/${frozen})
  target_include_directories(${name}_new PRIVATE ${PROJECT_SOURCE_DIR}/capi)
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -DOLD=$<TARGET_FILE:${name}_old> -DNEW=$<TARGET_FILE:${name}_new> ${ARGN}
                   -P ${abi}/compare_layout.cmake)
endfunction()
capi_abi_layout_test(capi_abi_layout abi_layout.c v0.1)
capi_abi_layout_test(capi_abi_layout_0_2 abi_layout_0_2.c v0.2 -DVERSION=0.2)
capi_abi_layout_test(capi_abi_layout_0_3 abi_layout_0_3.c v0.3 -DVERSION=0.3)
add_executable(capi_abi_old_program ${abi}/old_program.c)
set_target_properties(capi_abi_old_program PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)
target_compile_options(capi_abi_old_program PRIVATE -Wall -Wextra -Werror -pedantic)
target_include_directories(capi_abi_old_program PRIVATE ${abi}/v0.1)
target_link_libraries(capi_abi_old_program PRIVATE $<TARGET_FILE:liteai_shared>)
add_dependencies(capi_abi_old_program liteai_shared)
add_test(NAME capi_abi_old_program COMMAND capi_abi_old_program ${CMAKE_CURRENT_BINARY_DIR}/tmp/abi_old_program)

# Installed C library: pkg-config (shared and static) builds and runs the C example.
find_program(LITEAI_PKG_CONFIG pkg-config)
if(LITEAI_PKG_CONFIG AND NOT LITEAI_SANITIZE)
  add_test(NAME capi_pkg_config
           COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DWORK=${CMAKE_CURRENT_BINARY_DIR}/capi_pkg_config
                   -DPKG_CONFIG=${LITEAI_PKG_CONFIG} -DCC=${CMAKE_C_COMPILER}
                   -DEXAMPLE=${PROJECT_SOURCE_DIR}/examples/c/example.c
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/run_capi_pkgconfig.cmake)
  set_tests_properties(capi_pkg_config PROPERTIES TIMEOUT 600)
endif()
