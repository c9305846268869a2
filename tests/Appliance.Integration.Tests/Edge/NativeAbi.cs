using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// We have no C shim, so the numbers in src/Appliance.Linux/Interop are pinned by small C programs
/// in native/ (copied to the test output) that print "NAME VALUE" lines from the installed kernel
/// uapi and libc headers: constants by their C name, <c>sizeof.STRUCT</c> and
/// <c>offsetof.STRUCT.FIELD</c>. Shared by the ABI tests.
/// </summary>
internal static class NativeAbi
{
    /// <summary>Compiles native/<paramref name="sourceName"/> with gcc, runs it and parses its output.</summary>
    public static Dictionary<string, ulong> CompileAndRun(string sourceName)
    {
        string source = Path.Combine(AppContext.BaseDirectory, "native", sourceName);
        Assert.True(File.Exists(source), $"{source} missing: the test project copies native/{sourceName} to its output");
        string gcc = Edge.FindOnPath("gcc") ?? Edge.FindOnPath("cc")
            ?? throw new Xunit.Sdk.XunitException(
                $"gcc not found on PATH: the interop ABI tests compile native/{sourceName} against the kernel headers " +
                "(apt-get install gcc linux-libc-dev; CI installs it)");
        string dir = Path.Combine(Path.GetTempPath(), $"apl-edge-abi-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string exe = Path.Combine(dir, Path.GetFileNameWithoutExtension(sourceName));
            Edge.Run(gcc, "-std=c11", "-Wall", "-Werror", "-o", exe, source);
            var result = new Dictionary<string, ulong>();
            foreach (string line in Edge.Run(exe).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] parts = line.Split(' ');
                result.Add(parts[0], ulong.Parse(parts[1], CultureInfo.InvariantCulture));
            }
            return result;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Compares both ways: every constant declared directly in <paramref name="types"/> must be printed
    /// with the same value, and every constant printed (names without a dot) must be declared.
    /// Returns one line per problem.
    /// </summary>
    public static List<string> ConstantMismatches(IReadOnlyDictionary<string, ulong> native, string sourceName, params Type[] types)
    {
        FieldInfo[] constants = types
            .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(f => f.IsLiteral)
            .ToArray();
        Assert.NotEmpty(constants);

        var problems = new List<string>();
        foreach (FieldInfo field in constants)
        {
            ulong managed = ToUInt64(field.GetRawConstantValue()!);
            if (!native.TryGetValue(field.Name, out ulong expected))
                problems.Add($"{field.Name}: not printed by native/{sourceName} (add it there)");
            else if (managed != expected)
                problems.Add($"{field.Name}: C# 0x{managed:X} but the headers say 0x{expected:X}");
        }
        string declaredIn = string.Join(" or ", types.Select(t => t.FullName!.Replace('+', '.')));
        foreach (string name in native.Keys.Where(k => !k.Contains('.')))
        {
            if (!constants.Any(f => f.Name == name))
                problems.Add($"{name}: printed by {sourceName} but not declared in {declaredIn}");
        }
        return problems;
    }

    /// <summary>
    /// Compares the layout of <typeparamref name="T"/> with C's <c>struct <paramref name="cName"/></c>
    /// both ways: size (managed and marshalled), and the offset of every field, whose C# names are
    /// the C names. Returns one line per problem.
    /// </summary>
    public static List<string> StructMismatches<T>(IReadOnlyDictionary<string, ulong> native, string sourceName, string cName) where T : unmanaged
    {
        var problems = new List<string>();
        if (!native.TryGetValue($"sizeof.{cName}", out ulong size))
            return [$"{cName}: sizeof not printed by {sourceName}"];
        if ((ulong)Unsafe.SizeOf<T>() != size || (ulong)Marshal.SizeOf<T>() != size)
            problems.Add($"{cName}: C# size {Unsafe.SizeOf<T>()} (marshalled {Marshal.SizeOf<T>()}), kernel {size}");

        string[] fields = typeof(T).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => f.Name).ToArray();
        foreach (string field in fields)
        {
            ulong managed = (ulong)Marshal.OffsetOf<T>(field);
            if (!native.TryGetValue($"offsetof.{cName}.{field}", out ulong expected))
                problems.Add($"{cName}.{field}: offset not printed by {sourceName} (add it there)");
            else if (managed != expected)
                problems.Add($"{cName}.{field}: C# offset {managed}, kernel {expected}");
        }
        string prefix = $"offsetof.{cName}.";
        foreach (string key in native.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))
        {
            if (!fields.Contains(key[prefix.Length..]))
                problems.Add($"{cName}.{key[prefix.Length..]}: printed by {sourceName} but missing from {typeof(T).Name}");
        }
        return problems;
    }

    public static ulong ToUInt64(object value) => value switch
    {
        byte b => b,
        ushort us => us,
        int i => unchecked((ulong)(uint)i),
        short s => unchecked((ulong)(ushort)s),
        uint u => u,
        ulong ul => ul,
        nuint n => n,
        nint n => unchecked((ulong)n),
        long l => unchecked((ulong)l),
        _ => throw new InvalidOperationException($"unexpected constant type {value.GetType()}"),
    };
}
