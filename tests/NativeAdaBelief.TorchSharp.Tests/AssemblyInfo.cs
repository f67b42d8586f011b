// TorchSharp's random seed and default dtype are process-wide: the tests build their models one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
