namespace NativeAdaBelief;

/// <summary>
/// State a training run keeps beside the optimizer's (a scheduler's last step, plateau counters,
/// a loss scale), saved as a small string dictionary so that a checkpoint can hold it
/// (<see cref="TrainingState"/>): the checkpoint's metadata is a string map.
/// </summary>
/// <remarks>
/// Restoring is two-phase so that a checkpoint load can be all or nothing:
/// <see cref="StageRestore"/> checks everything and changes nothing; the action it returns
/// commits and cannot fail.
/// </remarks>
public interface ISchedulerState
{
    /// <summary>What kind of state this is (for example <c>"LearningRateScheduler/StepLR"</c>); a restore refuses another kind.</summary>
    string StateKind { get; }

    /// <summary>The state as keys and invariant-culture values (doubles round-trip exactly).</summary>
    /// <returns>A new dictionary; the caller may keep it.</returns>
    IReadOnlyDictionary<string, string> SaveState();

    /// <summary>Checks <paramref name="state"/> (as <see cref="SaveState"/> wrote it) without changing anything.</summary>
    /// <param name="state">The saved state.</param>
    /// <returns>The action that restores it: it only assigns fields, so it cannot fail.</returns>
    /// <exception cref="InvalidDataException">The state is of another kind, misses a key, or holds a value that cannot be (the message names the key).</exception>
    Action StageRestore(IReadOnlyDictionary<string, string> state);

    /// <summary>Restores <paramref name="state"/>: <see cref="StageRestore"/>, then the commit.</summary>
    /// <param name="state">The saved state.</param>
    /// <exception cref="InvalidDataException">As <see cref="StageRestore"/>; nothing changed.</exception>
    void RestoreState(IReadOnlyDictionary<string, string> state) => StageRestore(state)();
}
