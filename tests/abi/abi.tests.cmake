# ABI checks: exported symbols against liteai.symbols; the struct layouts and enum values of every
# frozen header (v0.N/liteai.h) unchanged; a program built against the frozen v0.1 header runs
# against this library.
set(abi ${CMAKE_CURRENT_LIST_DIR})
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
add_test(NAME capi_abi_old_program COMMAND capi_abi_old_program ${LITEAI_TEST_TMP}/abi_old_program)
