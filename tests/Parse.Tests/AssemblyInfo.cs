// Model initialisation draws from torch's process-wide generator, seeded per parameter group; tests that
// also draw from it (torch.randn, manual_seed) must not interleave with another test's model construction,
// or "same seed, same result" would fail by chance. The product constructs models under a lock; the tests
// simply run one class at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
