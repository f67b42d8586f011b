namespace NativeAdaBelief.Distributed.Tests;

/// <summary>What a launch returned and printed (the command first).</summary>
internal sealed record LaunchResult(int ExitCode, string Output)
{
    /// <summary>Fails unless the launch exited 0 and every rank printed "rank r: <paramref name="scenario"/> OK".</summary>
    internal void AssertEveryRankPassed(string scenario, int ranks)
    {
        Assert.True(ExitCode == 0, $"exit code {ExitCode}:\n{Output}");
        for (int rank = 0; rank < ranks; rank++)
        {
            Assert.True(Output.Contains($"rank {rank}: {scenario} OK", StringComparison.Ordinal),
                $"rank {rank} did not report '{scenario} OK':\n{Output}");
        }
    }
}
