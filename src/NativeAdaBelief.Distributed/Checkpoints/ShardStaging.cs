namespace NativeAdaBelief.Distributed;

/// <summary>
/// The state a checkpoint gives this rank's pieces, read and checked in full before anything is
/// written (so that a failed load, on any rank, changes no rank): the group options and, per
/// owned piece, its step count and its m, s, s_max (when saved) and master copy.
/// </summary>
internal sealed class ShardStaging
{
    private readonly IReadOnlyList<ShardPiece> _pieces;
    private readonly float[][] _first, _second;
    private readonly float[]?[] _maxSecond, _master;
    private readonly long[] _steps;
    private readonly long[] _covered;

    internal ShardStaging(IReadOnlyList<ShardPiece> pieces, ParameterSpace space)
    {
        _pieces = pieces;
        int count = pieces.Count;
        _first = new float[count][];
        _second = new float[count][];
        _maxSecond = new float[count][];
        _master = new float[count][];
        _steps = new long[count];
        _covered = new long[count];
        for (int i = 0; i < count; i++)
        {
            long length = pieces[i].Length;
            if (length > Array.MaxLength)
            {
                throw new NotSupportedException($"A piece of {length} elements is more than a checkpoint of this version moves at once.");
            }
            _first[i] = new float[length];
            _second[i] = new float[length];
            _master[i] = space.Tensors[pieces[i].Tensor].Spec.KeepMasterCopy ? new float[length] : null;
            _steps[i] = -1;
        }
    }

    /// <summary>The groups' options from the checkpoint (null until known).</summary>
    internal AdaBeliefOptions[]? Groups { get; set; }

    /// <summary>The owned pieces being filled.</summary>
    internal IReadOnlyList<ShardPiece> Pieces => _pieces;

    /// <summary>
    /// Puts <paramref name="values"/> (elements [<paramref name="from"/>, from + length) of tensor
    /// piece.Tensor) of one state array into piece <paramref name="piece"/>.
    /// </summary>
    internal void Put(int piece, StateKind kind, ReadOnlySpan<float> values, long from)
    {
        long at = from - _pieces[piece].Offset;
        float[] target = kind switch
        {
            StateKind.FirstMoment => _first[piece],
            StateKind.SecondMoment => _second[piece],
            StateKind.MaxSecondMoment => _maxSecond[piece] ??= new float[_pieces[piece].Length],
            _ => _master[piece] ?? throw new InvalidDataException(
                $"The checkpoint has a master copy for tensor {_pieces[piece].Tensor}, which this model keeps without one."),
        };
        values.CopyTo(target.AsSpan(checked((int)at)));
        if (kind == StateKind.FirstMoment)
        {
            _covered[piece] += values.Length;
        }
    }

    /// <summary>Records the step count of (part of) a piece; all parts must agree.</summary>
    internal void PutStep(int piece, long step, string source)
    {
        if (_steps[piece] >= 0 && _steps[piece] != step)
        {
            throw new InvalidDataException(
                $"Tensor {_pieces[piece].Tensor} has step count {_steps[piece]} in one part of the checkpoint and {step} in {source}: "
                + "its parts were not saved together.");
        }
        _steps[piece] = step;
    }

    /// <summary>Fails unless every element of every piece received its state.</summary>
    internal void CheckComplete()
    {
        for (int i = 0; i < _pieces.Count; i++)
        {
            if (_covered[i] != _pieces[i].Length || _steps[i] < 0)
            {
                throw new InvalidDataException(
                    $"The checkpoint gives {_covered[i]} of the {_pieces[i].Length} elements of tensor {_pieces[i].Tensor} from "
                    + $"{_pieces[i].Offset} on: it does not cover the model.");
            }
        }
    }

    /// <summary>Writes everything into the optimizer's native pieces (nothing here can fail on valid staging).</summary>
    internal void Commit(DistributedAdaBeliefOptimizer optimizer)
    {
        AdaBeliefOptimizer local = optimizer.Local;
        AdaBeliefOptions[] groups = Groups ?? throw new InvalidOperationException("The checkpoint's group options were not staged.");
        for (int g = 0; g < groups.Length; g++)
        {
            local.ParamGroups[g].Options = groups[g];
        }
        for (int i = 0; i < _pieces.Count; i++)
        {
            OptimizerTensor tensor = local.Tensors[i];
            tensor.WriteState(StateKind.FirstMoment, _first[i]);
            tensor.WriteState(StateKind.SecondMoment, _second[i]);
            if (_maxSecond[i] is { } maxima)
            {
                tensor.WriteState(StateKind.MaxSecondMoment, maxima);
            }
            else if (tensor.HasMaxSecondMoment)
            {
                tensor.WriteState(StateKind.MaxSecondMoment, new float[tensor.Length]); // saved without: zeros, as the core does
            }
            if (_master[i] is { } master)
            {
                tensor.WriteState(StateKind.MasterParameters, master);
            }
            tensor.Step = _steps[i];
        }
    }
}
