"""The differential test of mstlite against MobX-State-Tree 9.0.0 (mobx 7.1.3) on Node."""
