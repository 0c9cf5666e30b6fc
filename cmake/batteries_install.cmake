# Install rules: libraries, headers, the tool, and a CMake package with a version file so that
# find_package(batteries CONFIG REQUIRED) works from an installed prefix.
include(CMakePackageConfigHelpers)

set(BATTERIES_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/batteries")

install(TARGETS ${BATTERIES_MODULES} batteries EXPORT batteriesTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/batteries DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")
install(FILES "${PROJECT_BINARY_DIR}/include/batteries/version.hpp"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/batteries)
install(EXPORT batteriesTargets NAMESPACE batteries:: DESTINATION ${BATTERIES_CMAKE_DIR})

configure_package_config_file(cmake/batteriesConfig.cmake.in
                              "${PROJECT_BINARY_DIR}/batteriesConfig.cmake"
                              INSTALL_DESTINATION ${BATTERIES_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/batteriesConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/batteriesConfig.cmake"
              "${PROJECT_BINARY_DIR}/batteriesConfigVersion.cmake"
        DESTINATION ${BATTERIES_CMAKE_DIR})
