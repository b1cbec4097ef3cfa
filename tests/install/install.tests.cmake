# Installed trees: `cmake --install` into a scratch prefix, then a consumer built with
# find_package(liteai), and the C example built through pkg-config (shared and static).
set(here ${CMAKE_CURRENT_LIST_DIR})
if(NOT LITEAI_SANITIZE)
  add_test(NAME install_find_package
           COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSRC_DIR=${here}/install_consumer
                   -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_test -P ${here}/run_install_test.cmake)
  set_tests_properties(install_find_package PROPERTIES TIMEOUT 600)
  find_program(LITEAI_PKG_CONFIG pkg-config)
  if(LITEAI_PKG_CONFIG)
    add_test(NAME capi_pkg_config
             COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DWORK=${CMAKE_CURRENT_BINARY_DIR}/capi_pkg_config
                     -DPKG_CONFIG=${LITEAI_PKG_CONFIG} -DCC=${CMAKE_C_COMPILER}
                     -DEXAMPLE=${PROJECT_SOURCE_DIR}/examples/c/example.c
                     -P ${here}/run_capi_pkgconfig.cmake)
    set_tests_properties(capi_pkg_config PROPERTIES TIMEOUT 600)
  endif()
endif()
