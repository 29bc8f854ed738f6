# The optional MPI executor (include/mahpo/study/mpi.hpp): a mahpo::mpi target exists only when an
# MPI library is found (Debian: libopenmpi-dev, openmpi-bin). MAHPO_WITH_MPI says
# whether it was. The umbrella header mahpo/mahpo.hpp never includes mpi.hpp.
set(MAHPO_WITH_MPI OFF)
if(MAHPO_ENABLE_MPI)
  set(MPI_CXX_SKIP_MPICXX ON)  # the C API only: MPI's C++ bindings are deprecated
  find_package(MPI QUIET COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(MAHPO_WITH_MPI ON)
  endif()
endif()

if(MAHPO_WITH_MPI)
  add_library(mahpo_mpi INTERFACE)
  add_library(mahpo::mpi ALIAS mahpo_mpi)
  set_target_properties(mahpo_mpi PROPERTIES EXPORT_NAME mpi)
  target_link_libraries(mahpo_mpi INTERFACE mahpo MPI::MPI_CXX Threads::Threads)
  target_compile_definitions(mahpo_mpi INTERFACE MAHPO_WITH_MPI=1)
  install(TARGETS mahpo_mpi EXPORT mahpoMpiTargets)
  install(EXPORT mahpoMpiTargets NAMESPACE mahpo:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mahpo)
  message(STATUS "mahpo: MPI executor enabled (MPI ${MPI_CXX_VERSION}, ${MPIEXEC_EXECUTABLE})")
elseif(NOT MAHPO_ENABLE_MPI)
  message(STATUS "mahpo: MPI executor disabled (MAHPO_ENABLE_MPI is OFF)")
else()
  message(STATUS "mahpo: MPI executor disabled (no MPI library found; Debian: libopenmpi-dev openmpi-bin)")
endif()
