# cmake --install: headers, the libraries and liteaiConfig.cmake for find_package(liteai).
include(CMakePackageConfigHelpers)
get_property(mods GLOBAL PROPERTY LITEAI_MODULES)
install(TARGETS liteai ${mods} EXPORT liteaiTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/liteai DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT liteaiTargets NAMESPACE liteai:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/liteai)
configure_package_config_file(cmake/liteaiConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/liteaiConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/liteai)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/liteaiConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/liteaiConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/liteaiConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/liteai)
