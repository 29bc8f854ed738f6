# The optional GPU backend: a mahpo::cuda target exists only when nvcc and cuDNN are found (a GPU is
# not needed to build it). Its headers (cuda/mahpo/cuda/*.hpp) are host C++ on the CUDA, cuDNN and
# cuBLAS APIs, never reached from the host-only umbrella header; its kernels (cuda/mahpo/cuda/kernels.cu)
# are the backend's one compiled file, the static library mahpo_cuda_kernels, built by nvcc for
# MAHPO_CUDA_ARCHITECTURES (sm_80 and sm_90 by default: A100, H100/H200).
set(MAHPO_CUDA_ARCHITECTURES "80;90" CACHE STRING "GPU architectures the CUDA kernels are built for")
set(MAHPO_HAS_CUDA OFF)
if(MAHPO_ENABLE_CUDA)
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    find_package(CUDAToolkit QUIET)
    find_path(MAHPO_CUDNN_INCLUDE_DIR cudnn.h
      HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV CUDNN_ROOT PATH_SUFFIXES include)
    find_library(MAHPO_CUDNN_LIBRARY cudnn
      HINTS ${CUDAToolkit_LIBRARY_DIR} ENV CUDNN_ROOT PATH_SUFFIXES lib lib64)
    if(CUDAToolkit_FOUND AND MAHPO_CUDNN_INCLUDE_DIR AND MAHPO_CUDNN_LIBRARY)
      set(MAHPO_HAS_CUDA ON)
    endif()
  endif()
endif()

if(MAHPO_HAS_CUDA)
  enable_language(CUDA)
  add_library(mahpo_cuda_kernels STATIC ${PROJECT_SOURCE_DIR}/cuda/mahpo/cuda/kernels.cu)
  set_target_properties(mahpo_cuda_kernels PROPERTIES
    CUDA_ARCHITECTURES "${MAHPO_CUDA_ARCHITECTURES}" CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
    POSITION_INDEPENDENT_CODE ON)
  target_include_directories(mahpo_cuda_kernels PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/cuda>)
  target_link_libraries(mahpo_cuda_kernels PUBLIC CUDA::cudart)
  add_library(mahpo_cuda INTERFACE)
  add_library(mahpo::cuda ALIAS mahpo_cuda)
  target_include_directories(mahpo_cuda INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/cuda>
    $<BUILD_INTERFACE:${MAHPO_CUDNN_INCLUDE_DIR}>)
  target_link_libraries(mahpo_cuda INTERFACE mahpo mahpo_cuda_kernels CUDA::cudart CUDA::cublas
    $<BUILD_INTERFACE:${MAHPO_CUDNN_LIBRARY}>)
  target_compile_definitions(mahpo_cuda INTERFACE MAHPO_WITH_CUDA=1)
  message(STATUS "mahpo: CUDA backend enabled (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, cuDNN ${MAHPO_CUDNN_LIBRARY}, "
                 "architectures ${MAHPO_CUDA_ARCHITECTURES})")
else()
  message(STATUS "mahpo: CUDA backend disabled (nvcc or cuDNN not found)")
endif()
