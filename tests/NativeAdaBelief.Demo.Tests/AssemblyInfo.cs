// Two cores, and the trainer and the native optimizer use both: one test class at a time.
// (The command-line tests also redirect Console.Error, which is process-wide.)
[assembly: CollectionBehavior(DisableTestParallelization = true)]
