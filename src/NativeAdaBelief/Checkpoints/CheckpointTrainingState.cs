using System.Globalization;

namespace NativeAdaBelief;

/// <summary>
/// A <see cref="TrainingState"/> in a checkpoint's metadata (format version 4,
/// docs/checkpoint-format.md): <c>training.global_step</c>, <c>training.schedule_count</c>,
/// <c>training.schedule.{i}.{key}</c>, <c>training.loss_scaler.{key}</c> and <c>user.{key}</c>,
/// all covered by the metadata checksum.
/// </summary>
internal static class CheckpointTrainingState
{
    internal const string KeyGlobalStep = "training.global_step";
    internal const string KeyScheduleCount = "training.schedule_count";
    private const string SchedulePrefix = "training.schedule.";
    private const string LossScalerPrefix = "training.loss_scaler.";
    private const string UserPrefix = "user.";

    /// <summary>Whether <paramref name="key"/> belongs to the training state (which <see cref="CheckpointLayout"/> leaves to this class).</summary>
    internal static bool IsTrainingKey(string key, int version) =>
        version >= CheckpointFormat.TrainingStateFormatVersion && (key.StartsWith("training.", StringComparison.Ordinal) || key.StartsWith(UserPrefix, StringComparison.Ordinal));

    /// <summary>Adds <paramref name="state"/>'s keys to <paramref name="metadata"/>.</summary>
    internal static void Write(Dictionary<string, string> metadata, TrainingState state)
    {
        metadata[KeyGlobalStep] = CheckpointFormat.Invariant(state.GlobalStep);
        metadata[KeyScheduleCount] = CheckpointFormat.Invariant(state.Schedules.Count);
        for (int i = 0; i < state.Schedules.Count; i++)
        {
            ISchedulerState schedule = state.Schedules[i] ?? throw new ArgumentException($"TrainingState.Schedules[{i}] is null.", nameof(state));
            AddAll(metadata, $"{SchedulePrefix}{CheckpointFormat.Invariant(i)}.", schedule.SaveState(), $"Schedules[{i}]");
        }
        if (state.LossScaler is { } scaler)
        {
            AddAll(metadata, LossScalerPrefix, scaler.SaveState(), "LossScaler");
        }
        foreach ((string key, string value) in state.UserMetadata)
        {
            if (string.IsNullOrEmpty(key) || value is null)
            {
                throw new ArgumentException("TrainingState.UserMetadata holds an empty key or a null value.", nameof(state));
            }
            metadata[UserPrefix + key] = value;
        }
    }

    private static void AddAll(Dictionary<string, string> metadata, string prefix, IReadOnlyDictionary<string, string> values, string what)
    {
        foreach ((string key, string value) in values)
        {
            if (string.IsNullOrEmpty(key) || key.Contains('.') || value is null)
            {
                throw new ArgumentException($"TrainingState.{what} saved a key '{key}' that is empty or holds a '.', or a null value.");
            }
            metadata[prefix + key] = value;
        }
    }

    /// <summary>
    /// Checks the file's training state against <paramref name="state"/> and stages every part
    /// (<see cref="ISchedulerState.StageRestore"/>), changing nothing; returns the commit, which
    /// the load runs after the optimizer's own commit.
    /// </summary>
    internal static Action Stage(CheckpointMetadata meta, int version, TrainingState state)
    {
        if (version < CheckpointFormat.TrainingStateFormatVersion)
        {
            throw new InvalidDataException(
                $"The checkpoint (format version {version}) holds no training state: it was saved without one. Load it with LoadCheckpoint(path) alone.");
        }
        long globalStep = meta.Count(KeyGlobalStep);
        long scheduleCount = meta.Count(KeyScheduleCount);
        if (scheduleCount != state.Schedules.Count)
        {
            throw new InvalidDataException(
                $"The checkpoint holds the states of {scheduleCount} schedules, but TrainingState.Schedules has {state.Schedules.Count}: give the same schedules in the same order.");
        }
        var schedules = new Dictionary<string, string>[scheduleCount];
        for (int i = 0; i < schedules.Length; i++)
        {
            schedules[i] = new Dictionary<string, string>(StringComparer.Ordinal);
        }
        var scaler = new Dictionary<string, string>(StringComparer.Ordinal);
        var user = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string key, string value) in meta.Values)
        {
            if (!IsTrainingKey(key, version) || key is KeyGlobalStep or KeyScheduleCount)
            {
                continue;
            }
            if (key.StartsWith(UserPrefix, StringComparison.Ordinal))
            {
                user[key[UserPrefix.Length..]] = value;
            }
            else if (key.StartsWith(LossScalerPrefix, StringComparison.Ordinal))
            {
                scaler[key[LossScalerPrefix.Length..]] = value;
            }
            else if (key.StartsWith(SchedulePrefix, StringComparison.Ordinal)
                && key[SchedulePrefix.Length..].Split('.', 2) is [string index, string name]
                && CheckpointFormat.TryParseCount(index, out long i) && index == CheckpointFormat.Invariant(i) && i < scheduleCount)
            {
                schedules[i][name] = value;
            }
            else
            {
                throw new InvalidDataException($"The checkpoint's metadata has an unexpected key '{key}'.");
            }
        }
        var commits = new List<Action>();
        for (int i = 0; i < schedules.Length; i++)
        {
            ISchedulerState schedule = state.Schedules[i] ?? throw new ArgumentException($"TrainingState.Schedules[{i}] is null.", nameof(state));
            commits.Add(schedule.StageRestore(schedules[i]));
        }
        if ((scaler.Count > 0) != (state.LossScaler is not null))
        {
            throw new InvalidDataException(scaler.Count > 0
                ? "The checkpoint holds a loss scaler's state, but TrainingState.LossScaler is null."
                : "TrainingState.LossScaler is set, but the checkpoint holds no loss scaler's state.");
        }
        if (state.LossScaler is { } lossScaler)
        {
            commits.Add(lossScaler.StageRestore(scaler));
        }
        return () =>
        {
            foreach (Action commit in commits)
            {
                commit();
            }
            state.GlobalStep = globalStep;
            state.UserMetadata.Clear();
            foreach ((string key, string value) in user)
            {
                state.UserMetadata[key] = value;
            }
        };
    }
}
