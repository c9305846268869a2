using System.IO.Compression;
using System.Text;
using Appliance.Core.Config.Import;

namespace Appliance.Linux;

/// <summary>
/// The importers' sources on the real file system (<see cref="IImportFiles"/>): text files of at most
/// <see cref="MaxBytes"/>, and <c>NAME.gz</c> files decompressed (Debian ships heartbeat's samples
/// gzip'd). Only read: an importer never writes here.
/// </summary>
public sealed class ImportSourceFiles : IImportFiles
{
    /// <summary>Largest source file read (after decompression): a config of a few kilobytes, with room.</summary>
    public const int MaxBytes = 1024 * 1024;

    public ImportFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            if (Directory.Exists(path))
                return new ImportFile(path, null, "is a directory, not a file");
            if (!File.Exists(path))
                return ImportFile.Missing(path);
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            Stream source = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using (source)
            {
                var buffer = new byte[MaxBytes + 1];
                int total = 0, n;
                while (total < buffer.Length && (n = source.Read(buffer, total, buffer.Length - total)) > 0)
                    total += n;
                if (total > MaxBytes)
                    return new ImportFile(path, null, $"larger than {MaxBytes} bytes; not a config file");
                var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, total);
                if (text.Contains('\0'))
                    return new ImportFile(path, null, "holds NUL bytes; not a text file");
                return new ImportFile(path, text, null);
            }
        }
        catch (DecoderFallbackException)
        {
            return new ImportFile(path, null, "not UTF-8 text");
        }
        catch (InvalidDataException e)
        {
            return new ImportFile(path, null, $"not a gzip file ({e.Message})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new ImportFile(path, null, $"cannot be read: {e.Message}");
        }
    }

    public IReadOnlyList<string>? List(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        try
        {
            return Directory.Exists(directory)
                ? Directory.EnumerateFileSystemEntries(directory).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToList()
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public bool IsDirectory(string path) => Directory.Exists(path);
}
