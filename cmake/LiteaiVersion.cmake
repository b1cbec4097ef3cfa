# The library's version and the source revision it was built from (recorded in every file it
# writes): a generated source of the core module. The revision is read at configure time
# (`git describe`; "unknown" outside a git checkout) and refreshed on every configure.
find_package(Git QUIET)
set(LITEAI_SOURCE_REVISION "unknown")
if(GIT_FOUND AND EXISTS ${PROJECT_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${PROJECT_SOURCE_DIR} describe --always --dirty --abbrev=12
                  OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(rc EQUAL 0 AND rev)
    set(LITEAI_SOURCE_REVISION ${rev})
  endif()
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/version.cpp.in ${PROJECT_BINARY_DIR}/generated/liteai_version.cpp @ONLY)
target_sources(liteai_core PRIVATE ${PROJECT_BINARY_DIR}/generated/liteai_version.cpp)
