// TestSupport: tiny random-weight models, weight-file writers, tolerances and
// paths to the real models and references, shared by the test targets.
