# `cmake --install build --prefix P`: the public header, the shared and
# static libcnnrun, pkg-config's cnnrun.pc, the CMake package
# (find_package(cnnrun) -> cnnrun::cnnrun, cnnrun::cnnrun_static) and the
# cnnrun program. Only the public header is installed: the internal ones
# live beside their code in src/.
include(CMakePackageConfigHelpers)

set(CNN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cnnrun)

install(FILES ${CMAKE_SOURCE_DIR}/include/cnnrun.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cnnrun_shared cnnrun_static EXPORT cnnrunTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cnnrun RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The manual page, written by the program itself from the tables that also
# make its --help (src/help.c), so the two cannot drift.
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/cnnrun.1
                   COMMAND cnnrun --man > ${CMAKE_BINARY_DIR}/cnnrun.1
                   DEPENDS cnnrun VERBATIM)
add_custom_target(cnnrun_man ALL DEPENDS ${CMAKE_BINARY_DIR}/cnnrun.1)
install(FILES ${CMAKE_BINARY_DIR}/cnnrun.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(EXPORT cnnrunTargets NAMESPACE cnnrun:: DESTINATION ${CNN_CMAKE_DIR})

configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/cnnrunConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cnnrunConfig.cmake INSTALL_DESTINATION ${CNN_CMAKE_DIR})
# 0.x: a new minor version may change the API, so only the same minor matches
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cnnrunConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cnnrunConfig.cmake ${CMAKE_BINARY_DIR}/cnnrunConfigVersion.cmake
        DESTINATION ${CNN_CMAKE_DIR})

# cnnrun.pc. The shared library carries its own dependencies; a static link
# needs them listed: the pkg-config modules in Requires.private, OpenMP's
# runtime and libm in Libs.private. The prefix is the one given to
# `cmake --install --prefix`, so the file is written at install time.
set(CNN_PC_OPENMP "")
foreach(lib ${OpenMP_C_LIB_NAMES})
  # clang's libomp lives outside the linker's default folders
  get_filename_component(dir "${OpenMP_${lib}_LIBRARY}" DIRECTORY)
  if(dir AND NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
    string(APPEND CNN_PC_OPENMP " -L${dir}")
  endif()
  string(APPEND CNN_PC_OPENMP " -l${lib}")
endforeach()
string(STRIP "${CNN_PC_OPENMP}" CNN_PC_OPENMP)
set(CNN_PC_PREFIX "@CNN_PC_PREFIX@")   # kept for the second, install-time pass
configure_file(${CMAKE_SOURCE_DIR}/cmake/cnnrun.pc.in ${CMAKE_BINARY_DIR}/cnnrun.pc.in @ONLY)
install(CODE "
  set(CNN_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${CMAKE_BINARY_DIR}/cnnrun.pc.in\" \"${CMAKE_BINARY_DIR}/cnnrun.pc\" @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/cnnrun.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
