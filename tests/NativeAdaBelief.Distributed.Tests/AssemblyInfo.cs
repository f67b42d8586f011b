// The MPI scenarios each start several processes on a small machine: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
