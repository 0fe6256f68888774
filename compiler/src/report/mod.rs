//! Rendering check results for people and machines (to be written).
