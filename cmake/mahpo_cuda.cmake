# The optional GPU backend: a mahpo::cuda target exists only when nvcc and cuDNN are found.
# Its headers (cuda/mahpo/cuda/*.cuh) are never reached from the host-only umbrella header.
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
  add_library(mahpo_cuda INTERFACE)
  add_library(mahpo::cuda ALIAS mahpo_cuda)
  target_include_directories(mahpo_cuda INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/cuda>
    $<BUILD_INTERFACE:${MAHPO_CUDNN_INCLUDE_DIR}>)
  target_link_libraries(mahpo_cuda INTERFACE mahpo CUDA::cudart $<BUILD_INTERFACE:${MAHPO_CUDNN_LIBRARY}>)
  message(STATUS "mahpo: CUDA backend enabled (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, cuDNN ${MAHPO_CUDNN_LIBRARY})")
else()
  message(STATUS "mahpo: CUDA backend disabled (nvcc or cuDNN not found)")
endif()
