namespace NativeAdaBelief.Distributed.Tests;

/// <summary>
/// The same optimizer under Open MPI (pointer handles instead of MPICH's integers): a smaller set
/// than under MPICH, covering every collective: the equivalence with 2 and 3 ranks, a checkpoint
/// saved on three ranks (both kinds) and resumed on two from the gathered file, the refusals, and
/// a rank that dies.
/// </summary>
public sealed class OpenMpiScenarioTests
{
    private static MpiLauncher OpenMpi => MpiLauncher.OpenMpi!;

    [OpenMpiFact]
    public void Two_ranks_are_bit_identical_to_one_process_in_bfloat16_with_clipping_and_a_skip() =>
        OpenMpi.Run(2, [], "equivalence", "--precision", "bfloat16", "--clip", "0.05").AssertEveryRankPassed("equivalence", 2);

    [OpenMpiFact]
    public void Three_ranks_are_bit_identical_to_one_process_summing_in_rank_order() =>
        OpenMpi.Run(3, [], "equivalence", "--clip", "0.05").AssertEveryRankPassed("equivalence", 3);

    [OpenMpiFact]
    public void A_run_saved_on_three_ranks_resumes_on_two_from_the_gathered_file_and_a_mismatched_model_is_refused()
    {
        string folder = Directory.CreateTempSubdirectory("nab-distributed-").FullName;
        try
        {
            OpenMpi.Run(3, [], "checkpoint-save", "--dir", folder).AssertEveryRankPassed("checkpoint-save", 3);
            OpenMpi.Run(2, [], "checkpoint-resume", "--dir", folder, "--from", "gathered").AssertEveryRankPassed("checkpoint-resume", 2);
            OpenMpi.Run(2, [], "mismatch").AssertEveryRankPassed("mismatch", 2);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [OpenMpiFact]
    public void A_rank_that_dies_makes_the_others_fail_after_the_timeout()
    {
        // --enable-recovery: Open MPI's launcher lets the other ranks run on when one dies.
        LaunchResult result = OpenMpi.Run(2, ["--enable-recovery"], "dead-rank", "--mode", "kill", "--timeout", "3");
        Assert.True(result.Output.Contains("rank 0: dead-rank OK", StringComparison.Ordinal), result.Output);
        // A timeout, or MPI's own error where it notices the death first.
        Assert.Matches(@"rank 0: dead-rank OK after [0-9.]+ s: Communicator(Timeout)?Exception: ", result.Output);
    }
}
