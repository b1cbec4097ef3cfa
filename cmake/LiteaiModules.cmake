# liteai_module(name "dir1;dir2" DEPS ...): a static library from every .cpp in the folders
# (relative to the project root, or absolute).
# Files named *_avx512bf16.cpp / *_avx512.cpp / *_avx2.cpp / *_sse.cpp get that ISA's flags (and only they do):
# the library itself is never built with -march=native, an older CPU must run the same binary.
set(LITEAI_FLAGS_avx512 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mf16c)
set(LITEAI_FLAGS_avx512bf16 ${LITEAI_FLAGS_avx512} -mavx512bf16)
set(LITEAI_FLAGS_avx2 -mavx2 -mfma -mf16c)
set(LITEAI_FLAGS_sse -msse4.2)

function(liteai_module name dirs)
  cmake_parse_arguments(M "" "" "DEPS" ${ARGN})
  set(srcs)
  foreach(d IN LISTS dirs)
    if(NOT IS_ABSOLUTE ${d})
      set(d ${PROJECT_SOURCE_DIR}/${d})
    endif()
    file(GLOB s CONFIGURE_DEPENDS ${d}/*.cpp)
    list(APPEND srcs ${s})
  endforeach()
  if(NOT srcs)
    set(stub ${CMAKE_CURRENT_BINARY_DIR}/${name}_empty.cpp)
    file(WRITE ${stub} "// module ${name} has no sources yet\n")
    set(srcs ${stub})
  endif()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${M_DEPS} Threads::Threads)
  target_link_libraries(${name} PRIVATE liteai_xsimd Eigen3::Eigen stb::stb)
  foreach(f IN LISTS srcs)
    foreach(isa avx512bf16 avx512 avx2 sse)
      if(f MATCHES "_${isa}\\.cpp$")
        set_source_files_properties(${f} PROPERTIES COMPILE_OPTIONS "${LITEAI_FLAGS_${isa}}")
      endif()
    endforeach()
  endforeach()
  set_property(GLOBAL APPEND PROPERTY LITEAI_MODULES ${name})
endfunction()
