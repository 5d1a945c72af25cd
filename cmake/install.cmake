# install.cmake — what `make install PREFIX=...` puts where, for users outside the build tree:
#   lib/libmlufuse.so.MAJOR (+ .so link) exporting only the public mf_* API (a version script
#   made from the public headers), lib/libmlufuse.a (every layer's objects in one archive),
#   include/mlufuse/*.h, lib/pkgconfig/mlufuse.pc, lib/cmake/mlufuse/mlufuseConfig*.cmake
#   (find_package(mlufuse) gives mlufuse::mlufuse), bin/mlufuse, share/doc/mlufuse/*.txt
#   (every command's --help), and the Python package under lib/python3/dist-packages.
# The offline runtime is its own part (component "runtime": `cmake --install BUILD --component
# runtime`): lib/libmlufuse_rt.so and .a, bin/mlufuse-offline and the headers, no LLVM.
include(GNUInstallDirs)

set(MF_LAYERS mf_module mf_frontends mf_cache mf_codegen mf_passes mf_runtime mf_ir mf_onnx_proto)

# The version script: regenerated when a public header changes.
file(GLOB mf_public_headers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/include/mlufuse/*.h)
string(REPLACE ";" "|" mf_headers_arg "${mf_public_headers}")
set(MF_EXPORT_MAP ${CMAKE_BINARY_DIR}/gen/mlufuse.map)
add_custom_command(
  OUTPUT ${MF_EXPORT_MAP}
  COMMAND ${CMAKE_COMMAND} "-DHEADERS=${mf_headers_arg}" -DMAJOR=${PROJECT_VERSION_MAJOR}
          -DOUT=${MF_EXPORT_MAP} -P ${CMAKE_SOURCE_DIR}/scripts/export_map.cmake
  DEPENDS ${mf_public_headers} ${CMAKE_SOURCE_DIR}/scripts/export_map.cmake
  COMMENT "Listing the public API for libmlufuse.so's version script"
  VERBATIM)
add_custom_target(mf_export_map DEPENDS ${MF_EXPORT_MAP})

# The objects of every layer: libmlufuse.so and libmlufuse.a are made of them.
set(mf_layer_objects "")
foreach(l ${MF_LAYERS})
  list(APPEND mf_layer_objects $<TARGET_OBJECTS:${l}>)
endforeach()

# libmlufuse.so, its dependencies (LLVM, libffi, protobuf-c, nettle) linked as shared
# libraries.
add_library(mlufuse_shared SHARED ${mf_layer_objects})
add_dependencies(mlufuse_shared mf_export_map ${MF_LAYERS})
set_target_properties(mlufuse_shared PROPERTIES OUTPUT_NAME mlufuse VERSION ${PROJECT_VERSION}
                                                SOVERSION ${PROJECT_VERSION_MAJOR}
                                                LINK_DEPENDS ${MF_EXPORT_MAP})
target_link_libraries(mlufuse_shared PRIVATE LLVM PkgConfig::FFI PkgConfig::PROTOBUFC PkgConfig::NETTLE
                                             Threads::Threads m)
target_link_options(mlufuse_shared PRIVATE "LINKER:--version-script=${MF_EXPORT_MAP}"
                                           "LINKER:--no-undefined")

# libmlufuse.a: the same objects in one archive (its users also link what mlufuse.pc's
# Libs.private names).
add_library(mlufuse_static STATIC ${mf_layer_objects})
add_dependencies(mlufuse_static ${MF_LAYERS})
set_target_properties(mlufuse_static PROPERTIES OUTPUT_NAME mlufuse)

# pkg-config and CMake package files.
set(MF_PC_LIBS_PRIVATE "-L${LLVM_LIBRARY_DIR} -lLLVM-${LLVM_VERSION_MAJOR} ${FFI_LDFLAGS} ${PROTOBUFC_LDFLAGS} ${NETTLE_LDFLAGS} -lpthread -lm")
string(REPLACE ";" " " MF_PC_LIBS_PRIVATE "${MF_PC_LIBS_PRIVATE}")
file(RELATIVE_PATH MF_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${CMAKE_SOURCE_DIR}/cmake/mlufuse.pc.in ${CMAKE_BINARY_DIR}/gen/mlufuse.pc @ONLY)
file(RELATIVE_PATH MF_CONFIG_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/cmake/mlufuse /prefix)
configure_file(${CMAKE_SOURCE_DIR}/cmake/mlufuseConfig.cmake.in ${CMAKE_BINARY_DIR}/gen/mlufuseConfig.cmake @ONLY)
include(CMakePackageConfigHelpers)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/gen/mlufuseConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)

install(TARGETS mlufuse_shared mlufuse_static
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET mlufuse_tool)
  install(TARGETS mlufuse_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/mlufuse DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET mlufuse-offline)
  set_target_properties(mlufuse-offline PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
  install(TARGETS mlufuse_rt mlufuse_rt_static mlufuse-offline
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/mlufuse DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT runtime)
endif()
install(FILES ${CMAKE_BINARY_DIR}/gen/mlufuse.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${CMAKE_BINARY_DIR}/gen/mlufuseConfig.cmake ${CMAKE_BINARY_DIR}/gen/mlufuseConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mlufuse)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/python/mlufuse DESTINATION lib/python3/dist-packages
        PATTERN __pycache__ EXCLUDE)
# Every command's --help, as text under share/doc (the commands are their own manual).
install(CODE "
  set(doc \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  file(MAKE_DIRECTORY \"\${doc}\")
  foreach(cmd run opt cache genoff quantize)
    execute_process(COMMAND \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/mlufuse\" \${cmd} --help
                    OUTPUT_FILE \"\${doc}/mlufuse-\${cmd}.txt\" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR \"mlufuse \${cmd} --help failed: \${rc}\")
    endif()
  endforeach()
  execute_process(COMMAND \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/mlufuse\" --help
                  OUTPUT_FILE \"\${doc}/mlufuse.txt\")
")
