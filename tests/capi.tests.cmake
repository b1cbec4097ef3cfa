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
