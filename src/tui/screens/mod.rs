//! One file per screen: plain state, a pure `update(&mut self, Action) -> Option<Effect>`, and a
//! `render` that borrows the state.
pub mod editor; // preset editor
pub mod export; // snapshot destinations
pub mod incidents; // incident picker and recent captures
pub mod plan; // targets × presets → preview → start
pub mod replay; // saved snapshot played back
pub mod run; // live pane grid
