# `cmake --install` into a scratch prefix, then build and run a consumer with find_package(liteai).
if(NOT LITEAI_SANITIZE)
  add_test(NAME install_find_package
           COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSRC_DIR=${CMAKE_CURRENT_SOURCE_DIR}/install_consumer
                   -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_test -P ${CMAKE_CURRENT_SOURCE_DIR}/run_install_test.cmake)
  set_tests_properties(install_find_package PROPERTIES TIMEOUT 600)
endif()
