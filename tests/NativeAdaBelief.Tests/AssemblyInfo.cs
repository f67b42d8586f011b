// The native optimizer runs every step on all cores, the allocation and leak checks read
// process-wide counters, and the machine has two cores: run the test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
