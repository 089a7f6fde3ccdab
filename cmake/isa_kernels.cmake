# Run-time CPU dispatch (src/kernels/dispatch.c, src/kernels/isa.h).
#
# The whole library is compiled for the x86-64 baseline, so one build runs on
# any x86-64 CPU. The kernels with vectorised paths are compiled once more
# per instruction-set level, through the wrappers in src/kernels/<level>/,
# and only those files get that level's flags: nothing else may contain AVX
# instructions, since it runs before the CPU has been asked what it has.
#
# cnn_isa_kernels(<sources variable>) takes the list of library sources
# (the src/**/*.c glob, wrappers included), drops the wrappers of levels
# this compiler or CPU family cannot build, and sets the flags of the rest.
# Source properties, not targets: whichever targets compile these files
# (a static and a shared library) compile them the same way.

# -ffp-contract=off: the scalar code in these copies must round as the
# baseline copy's does (gcc does not contract in ISO C mode anyway; clang
# would fuse a * b + c into an FMA once -mfma allows it).
set(CNN_ISA_AVX2_FLAGS -mavx2 -mfma -mbmi -mbmi2 -mpopcnt -ffp-contract=off)
# AVX-512: everything AVX2 has, plus F/BW/DQ/VL (Skylake-X, Ice Lake,
# Sapphire Rapids, Zen 4). The same -ffp-contract=off: these copies must give
# the AVX2 copies' bits (docs/design.md, "Kernel levels").
set(CNN_ISA_AVX512_FLAGS ${CNN_ISA_AVX2_FLAGS} -mavx512f -mavx512bw -mavx512dq -mavx512vl)

function(cnn_isa_kernels sources_var)
  set(sources ${${sources_var}})
  file(GLOB avx2 ${CMAKE_SOURCE_DIR}/src/kernels/avx2/*.c)
  file(GLOB avx512 ${CMAKE_SOURCE_DIR}/src/kernels/avx512/*.c)
  set(x86 OFF)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i[3-6]86|x86)$"
     AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    set(x86 ON)
  endif()
  if(x86)
    set_source_files_properties(${avx2} PROPERTIES COMPILE_OPTIONS "${CNN_ISA_AVX2_FLAGS}")
    set_source_files_properties(${avx512} PROPERTIES COMPILE_OPTIONS "${CNN_ISA_AVX512_FLAGS}")
    set_source_files_properties(${CMAKE_SOURCE_DIR}/src/kernels/dispatch.c
      PROPERTIES COMPILE_DEFINITIONS "CNN_KERNELS_AVX2=1;CNN_KERNELS_AVX512=1")
    message(STATUS "cnnrun kernels: baseline, avx2 and avx512, chosen at run time")
  else()
    list(REMOVE_ITEM sources ${avx2} ${avx512})
    message(STATUS "cnnrun kernels: baseline (portable C) only")
  endif()
  # The elementwise loops that pick, per element, one of two floats computed
  # on both sides of a ?: (leaky_relu, the exp() of vexp.h in tanh and
  # sigmoid, src/kernels/activations.c at every level, and batchnorm's fused
  # ReLU gradient, src/kernels/bn_lanes.c). Under the default -ftrapping-math the compiler will
  # not compute the side that C computes only conditionally (it might raise
  # an exception the other would not), so it vectorises such a loop only
  # with masked instructions, which -march=native had on an AVX-512 CPU and
  # the x86-64 baseline lacks. cnnrun never reads the floating-point
  # exception flags; the option changes no result, only whether these
  # loops run in SIMD.
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    set_property(SOURCE
      ${CMAKE_SOURCE_DIR}/src/layers/leaky_relu.c
      ${CMAKE_SOURCE_DIR}/src/kernels/activations.c
      ${CMAKE_SOURCE_DIR}/src/kernels/avx2/activations.c
      ${CMAKE_SOURCE_DIR}/src/kernels/avx512/activations.c
      ${CMAKE_SOURCE_DIR}/src/kernels/bn_lanes.c
      ${CMAKE_SOURCE_DIR}/src/kernels/avx2/bn_lanes.c
      ${CMAKE_SOURCE_DIR}/src/kernels/avx512/bn_lanes.c
      APPEND PROPERTY COMPILE_OPTIONS -fno-trapping-math)
  endif()
  set(${sources_var} ${sources} PARENT_SCOPE)
endfunction()
