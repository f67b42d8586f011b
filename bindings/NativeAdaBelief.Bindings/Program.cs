using System.Text;

namespace NativeAdaBelief.Bindings;

/// <summary>Repository-relative paths (always with '/'), as written into the outputs.</summary>
internal static class Paths
{
    public const string Header = "native/include/native_adabelief.h";
    public const string GeneratorProject = "bindings/NativeAdaBelief.Bindings";
    public const string CSharpOutput = "src/NativeAdaBelief/Interop/NativeMethods.g.cs";
    public const string LayoutReportOutput = "native/tests/abi_layout/abi_layout_report.g.c";
    public const string GenerateCommand = "dotnet run --project " + GeneratorProject + " -- generate";
    public const string CheckCommand = "dotnet run --project " + GeneratorProject + " -- check";
}

internal static class Program
{
    private const string Usage =
        """
        NativeAdaBelief.Bindings: generates the C# interop file and the C layout report from
        native/include/native_adabelief.h through clang's JSON AST.

        usage: dotnet run --project bindings/NativeAdaBelief.Bindings -- <command> [options]

        commands:
          generate   write the generated files
          check      regenerate in memory; exit 1 (with a diff) if a committed file differs

        options:
          --clang PATH   the clang to run (default: $NAB_CLANG, else clang, clang-14 on PATH)
          --root DIR     the repository root (default: the nearest directory above the current
                         one, or above this tool, that holds native/include/native_adabelief.h)

        exit codes: 0 ok, 1 stale files (check), 2 error
        """;

    public static int Main(string[] args)
    {
        string? command = null, clangOption = null, rootOption = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h":
                case "--help":
                    Console.Out.Write(Usage.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
                    return 0;
                case "--clang" when i + 1 < args.Length:
                    clangOption = args[++i];
                    break;
                case "--root" when i + 1 < args.Length:
                    rootOption = args[++i];
                    break;
                case "generate":
                case "check":
                    if (command is not null) return Fail($"more than one command ('{command}', '{args[i]}')");
                    command = args[i];
                    break;
                default:
                    return Fail($"unknown argument '{args[i]}'");
            }
        }
        if (command is null) return Fail("no command given (generate or check)");

        try
        {
            string root = FindRoot(rootOption);
            var outputs = Generate(root, Clang.Locate(clangOption));
            return command == "generate" ? Write(root, outputs) : Check(root, outputs);
        }
        catch (GeneratorException e)
        {
            Console.Error.WriteLine($"bindings: error: {e.Message}");
            return 2;
        }
    }

    /// <summary>Every generated file: repository-relative path → content.</summary>
    private static SortedDictionary<string, string> Generate(string root, string clang)
    {
        string header = Path.GetFullPath(Path.Combine(root, Paths.Header));
        if (!File.Exists(header)) throw new GeneratorException($"header not found: {header}");
        byte[] headerBytes = File.ReadAllBytes(header);

        string astJson = Clang.Run(clang, new[]
        {
            "-x", "c", "-std=c99", "-fsyntax-only", "-fparse-all-comments",
            "-Xclang", "-ast-dump=json", header,
        });
        string macros = Clang.Run(clang, new[] { "-x", "c", "-std=c99", "-dM", "-E", header });

        var ast = ClangAstReader.Read(astJson);
        var model = HeaderModelBuilder.Build(ast, header, headerBytes, macros);
        if (model.Functions.Count == 0) throw new GeneratorException("the header declares no functions (wrong file?)");
        foreach (string what in model.Undocumented)
        {
            Console.Error.WriteLine($"bindings: note: {what} has no comment in the header; a fallback doc was generated");
        }

        var types = new TypeMapper(model);
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [Paths.CSharpOutput] = CSharpEmitter.Emit(model, types),
            [Paths.LayoutReportOutput] = CLayoutReportEmitter.Emit(model),
        };
    }

    private static int Write(string root, SortedDictionary<string, string> outputs)
    {
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        foreach (var (relative, content) in outputs)
        {
            string path = Path.Combine(root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            bool same = File.Exists(path) && File.ReadAllText(path, utf8) == content;
            if (!same) File.WriteAllText(path, content, utf8);
            Console.Out.WriteLine($"bindings: {(same ? "unchanged" : "wrote")} {relative}");
        }
        return 0;
    }

    private static int Check(string root, SortedDictionary<string, string> outputs)
    {
        var stale = new List<string>();
        foreach (var (relative, content) in outputs)
        {
            string path = Path.Combine(root, relative);
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"bindings: {relative} is missing.");
                stale.Add(relative);
                continue;
            }
            // CRLF tolerated on disk (a Windows checkout with autocrlf); the content must match.
            string onDisk = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);
            if (onDisk != content)
            {
                Console.Error.WriteLine($"bindings: {relative} is stale (it differs from what {Paths.Header} generates):");
                Console.Error.Write(TextDiff.Unified($"{relative} (regenerated)", content, $"{relative} (committed)", onDisk));
                stale.Add(relative);
            }
        }
        if (stale.Count == 0)
        {
            Console.Out.WriteLine($"bindings: {outputs.Count} generated files are up to date with {Paths.Header}.");
            return 0;
        }
        Console.Error.WriteLine();
        Console.Error.WriteLine($"bindings: {stale.Count} generated file(s) out of date: {string.Join(", ", stale)}");
        Console.Error.WriteLine($"bindings: to fix, run from the repository root:  {Paths.GenerateCommand}");
        Console.Error.WriteLine("bindings: and commit the regenerated files together with the header change.");
        return 1;
    }

    private static string FindRoot(string? option)
    {
        if (option is not null)
        {
            string full = Path.GetFullPath(option);
            if (!File.Exists(Path.Combine(full, Paths.Header)))
            {
                throw new GeneratorException($"--root {option}: no {Paths.Header} there");
            }
            return full;
        }
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, Paths.Header))) return dir.FullName;
            }
        }
        throw new GeneratorException(
            $"cannot find the repository root (a directory holding {Paths.Header}) above the current directory; use --root");
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"bindings: error: {message}");
        Console.Error.Write(Usage.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        return 2;
    }
}
