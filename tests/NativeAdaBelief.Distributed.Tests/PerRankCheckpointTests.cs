using System.Text.Json.Nodes;

namespace NativeAdaBelief.Distributed.Tests;

/// <summary>
/// The per-rank checkpoint's folder and manifest, in one process: what a save leaves, and every
/// way a broken or foreign set is refused before anything changes.
/// </summary>
public sealed class PerRankCheckpointTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("nab-per-rank-").FullName;
    private readonly SingleProcessCommunicator _communicator = new();
    private readonly ParameterSpace _space = new(TestSpaces.Mixed());
    private readonly DistributedAdaBeliefOptimizer _optimizer;

    public PerRankCheckpointTests()
    {
        _optimizer = new DistributedAdaBeliefOptimizer(_communicator, _space, TestSpaces.Groups());
        TestSpaces.Fill(_space, 1);
        _optimizer.Step();
        _optimizer.SaveCheckpoint(Path.Combine(_folder, "set"), DistributedCheckpointKind.PerRank);
    }

    private string Set => Path.Combine(_folder, "set");

    private string Manifest => Path.Combine(Set, "distributed.json");

    [Fact]
    public void A_save_leaves_the_manifest_and_one_shard_file_and_replaces_the_previous_set()
    {
        string[] before = Directory.GetFiles(Set);
        Assert.Equal(2, before.Length);
        _optimizer.SaveCheckpoint(Set, DistributedCheckpointKind.PerRank);
        string[] after = Directory.GetFiles(Set);
        Assert.Equal(2, after.Length);
        Assert.NotEqual(before.OrderBy(f => f), after.OrderBy(f => f)); // a new set id
        JsonNode manifest = JsonNode.Parse(File.ReadAllText(Manifest))!;
        Assert.Equal("native-adabelief.distributed-checkpoint", (string?)manifest["format"]);
        Assert.Equal(1, (int?)manifest["rank_count"]);
        Assert.Equal(5, manifest["shards"]![0]!["pieces"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("format", "\"something-else\"", "format is not")]
    [InlineData("format_version", "2", "format_version 2 is not 1")]
    [InlineData("checkpoint_id", "\"../../etc\"", "is not 32 lowercase hex digits")]
    [InlineData("rank_count", "2", "there are 1 shards for rank_count 2")]
    [InlineData("group_count", "3", "with 3 group(s)")]
    public void A_manifest_that_breaks_a_rule_is_refused_saying_which(string key, string json, string expected)
    {
        JsonNode manifest = JsonNode.Parse(File.ReadAllText(Manifest))!;
        manifest[key] = JsonNode.Parse(json);
        File.WriteAllText(Manifest, manifest.ToJsonString());
        AssertRefused(expected);
    }

    [Fact]
    public void Pieces_that_leave_a_gap_are_refused()
    {
        JsonNode manifest = JsonNode.Parse(File.ReadAllText(Manifest))!;
        manifest["shards"]![0]!["pieces"]![0]![2] = 99_999; // tensor 0 now ends one element early
        File.WriteAllText(Manifest, manifest.ToJsonString());
        AssertRefused("tensor 0's pieces end at element 99999 of 100000");
    }

    [Fact]
    public void A_set_of_another_model_is_refused_naming_the_tensor()
    {
        using var other = new ParameterSpace([.. TestSpaces.Mixed().Select((s, i) => i == 3 ? s with { Length = 40_001 } : s)]);
        using var optimizer = new DistributedAdaBeliefOptimizer(_communicator, other, TestSpaces.Groups());
        var e = Assert.Throws<InvalidDataException>(() => optimizer.LoadCheckpoint(Set));
        Assert.Contains("tensor 3 (d) is 40001 elements of BFloat16, a master copy, group 1 in this model but 40000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_manifests_and_shard_files_and_broken_json_are_refused()
    {
        File.Delete(Directory.GetFiles(Set, "shard-*").Single());
        AssertRefused("named by the manifest, is missing");
        File.WriteAllText(Manifest, "{ not json");
        AssertRefused("is not valid JSON");
        File.Delete(Manifest);
        AssertRefused("has no distributed.json");
    }

    private void AssertRefused(string expected)
    {
        string before = State();
        var e = Assert.Throws<InvalidDataException>(() => _optimizer.LoadCheckpoint(Set));
        Assert.Contains("rank 0 of 1", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal(before, State());
    }

    private string State() => string.Join(",", _optimizer.Local.Tensors.SelectMany(t => t.ReadState(StateKind.FirstMoment)).Take(5000))
        + string.Join(",", _optimizer.Local.Tensors.Select(t => t.Step));

    public void Dispose()
    {
        _optimizer.Dispose();
        _space.Dispose();
        _communicator.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
