namespace NativeAdaBelief.Distributed.Tests;

/// <summary>
/// The data-parallel optimizer under MPICH with 2 and 3 ranks (tests/NativeAdaBelief.Distributed.Mpi
/// holds the scenarios; each rank checks itself against a single-process reference it computes).
/// </summary>
public sealed class MpichScenarioTests
{
    private static MpiLauncher Mpich => MpiLauncher.Mpich!;

    [MpichFact]
    public void Two_ranks_are_bit_identical_to_one_process_in_float32_with_clipping_and_a_skip() =>
        Mpich.Run(2, [], "equivalence", "--precision", "float32", "--clip", "0.05").AssertEveryRankPassed("equivalence", 2);

    [MpichFact]
    public void Two_ranks_are_bit_identical_to_one_process_in_bfloat16_with_master_copies() =>
        Mpich.Run(2, [], "equivalence", "--precision", "bfloat16", "--clip", "0.05").AssertEveryRankPassed("equivalence", 2);

    [MpichFact]
    public void Three_ranks_are_bit_identical_to_one_process_summing_in_rank_order_in_both_precisions()
    {
        foreach (string precision in new[] { "float32", "bfloat16" })
        {
            Mpich.Run(3, [], "equivalence", "--precision", precision, "--clip", "0.05").AssertEveryRankPassed("equivalence", 3);
        }
    }

    [MpichFact]
    public void Each_rank_keeps_a_1_over_N_share_of_the_optimizer_state()
    {
        Mpich.Run(2, [], "state-bytes").AssertEveryRankPassed("state-bytes", 2);
        Mpich.Run(3, [], "state-bytes").AssertEveryRankPassed("state-bytes", 3);
    }

    [MpichFact]
    public void Saved_on_three_ranks_resumes_on_two_and_on_one_process_bit_identically()
    {
        string folder = Directory.CreateTempSubdirectory("nab-distributed-").FullName;
        try
        {
            Mpich.Run(3, [], "checkpoint-save", "--dir", folder).AssertEveryRankPassed("checkpoint-save", 3);
            Mpich.Run(2, [], "checkpoint-resume", "--dir", folder, "--from", "per-rank").AssertEveryRankPassed("checkpoint-resume", 2);
            Mpich.Run(2, [], "checkpoint-resume", "--dir", folder, "--from", "gathered").AssertEveryRankPassed("checkpoint-resume", 2);
            MpiLauncher.RunAlone("checkpoint-resume", "--dir", folder, "--from", "per-rank").AssertEveryRankPassed("checkpoint-resume", 1);
            LaunchResult plain = MpiLauncher.RunAlone("checkpoint-plain", "--dir", folder);
            Assert.True(plain.ExitCode == 0 && plain.Output.Contains("checkpoint-plain OK", StringComparison.Ordinal), plain.Output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [MpichFact]
    public void Models_that_differ_between_ranks_are_refused_on_every_rank_with_the_same_message() =>
        Mpich.Run(3, [], "mismatch").AssertEveryRankPassed("mismatch", 3);

    [MpichFact]
    public void A_rank_that_stops_makes_the_others_fail_after_the_timeout_instead_of_hanging()
    {
        // MPICH's launcher ends the whole job itself when a rank dies; a rank that stops taking
        // part without dying is what only the timeout catches. The surviving rank then aborts the job.
        LaunchResult result = Mpich.Run(2, [], "dead-rank", "--mode", "hang", "--timeout", "3");
        Assert.True(result.Output.Contains("rank 0: dead-rank OK", StringComparison.Ordinal), result.Output);
        Assert.Contains("CommunicatorTimeoutException", result.Output, StringComparison.Ordinal);
        Assert.Contains("did not complete within 00:00:03", result.Output, StringComparison.Ordinal);
        Assert.NotEqual(0, result.ExitCode); // ended by Abort(3)
    }
}
