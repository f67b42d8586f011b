using System.Globalization;

namespace NativeAdaBelief.Interop;

/// <summary>
/// Turns the native library's refusal of a value into the exception .NET callers expect for an
/// out-of-range argument. The rules themselves live only in the native library (its validators
/// and setters); this maps the field it names ("options.beta1") to the managed property that
/// holds it ("Beta1") and keeps the native message, which says the rule.
/// </summary>
internal static class NativeValidation
{
    /// <summary>
    /// Throws for a failed validator or setter: <see cref="ArgumentOutOfRangeException"/> naming
    /// the property that <paramref name="propertyOf"/> gives for the refused field, with its value,
    /// when the status is <c>INVALID_ARGUMENT</c>; the usual mapped exception otherwise.
    /// </summary>
    /// <param name="status">What the native call returned.</param>
    /// <param name="owner">The managed type that holds the value, for the message ("AdaBeliefOptions").</param>
    /// <param name="propertyOf">The managed property and its value for a native field name
    /// (without the argument prefix), or null when the field has no managed counterpart.</param>
    internal static void Check(nab_status status, string owner, Func<string, (string Property, object? Value)?> propertyOf)
    {
        if (status == nab_status.NAB_STATUS_OK)
        {
            return;
        }
        string message = NativeStatus.LastError();
        string argument = NativeStatus.LastErrorArgument();
        if (status != nab_status.NAB_STATUS_INVALID_ARGUMENT)
        {
            throw NativeStatus.Create(status, message);
        }
        // "options.beta1" / "config->thread_count" / "learning_rate": the field is the last part.
        int separator = Math.Max(argument.LastIndexOf('.'), argument.LastIndexOf('>'));
        string field = argument[(separator + 1)..];
        if (propertyOf(field) is not { } refused)
        {
            throw new ArgumentException(message, owner);
        }
        (string property, object? value) = refused;
        throw new ArgumentOutOfRangeException(property, value, $"{owner}.{property} = {Format(value)} is invalid ({message})");
    }

    /// <summary>
    /// <see cref="Check(nab_status, string, Func{string, ValueTuple{string, object}?})"/> for a call
    /// that takes one value: allocation-free unless it throws (for setters on a training loop's
    /// path, such as a learning rate set every step).
    /// </summary>
    /// <param name="status">What the native call returned.</param>
    /// <param name="owner">The managed type that holds the value, for the message.</param>
    /// <param name="field">The native name of the value ("learning_rate").</param>
    /// <param name="property">The managed property that holds it ("LearningRate").</param>
    /// <param name="value">The value that was set.</param>
    internal static void Check<T>(nab_status status, string owner, string field, string property, T value)
    {
        if (status != nab_status.NAB_STATUS_OK)
        {
            Throw(status, owner, field, property, value);
        }
    }

    private static void Throw<T>(nab_status status, string owner, string field, string property, T value) =>
        Check(status, owner, name => name == field ? (property, value) : null);

    /// <summary>A value as a .NET user writes it: "0.5", "NaN", "Infinity", "false", "Square".</summary>
    internal static string Format(object? value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        null => "null",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
