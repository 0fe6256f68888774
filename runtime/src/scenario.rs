//! Running a plan's topology tests (in progress).
