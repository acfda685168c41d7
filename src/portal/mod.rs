//! Teams and App IDs.
