# Set-up shared by the shell tests of tests/ (sourced): a fresh work directory $work (the
# second argument, or a new one) as the current directory, and the environment every run needs.
work=${2:-$(mktemp -d)}
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
# Open MPI as root, oversubscribed; singletons without a daemon (faster start); one thread per rank
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_ess_singleton_isolated=1 OMP_NUM_THREADS=1
