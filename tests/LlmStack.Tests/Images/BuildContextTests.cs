using System.Formats.Tar;
using LlmStack.Images;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Tests.Images;

/// <summary>Tests that measure this process's allocations run alone (no other test allocates meanwhile).</summary>
[CollectionDefinition("alone", DisableParallelization = true)]
public sealed class AloneCollection;

/// <summary>A build context: what is sent (.dockerignore applied), its content hash, and its tar stream.</summary>
[Collection("alone")]
public sealed class BuildContextTests : IDisposable
{
    private readonly string _directory = Repository.TempDirectory("context");

    public BuildContextTests()
    {
        Write("Dockerfile", "FROM scratch\nARG VERSION\nCOPY . /app\n");
        Write(".dockerignore", "# big and local things\n*.log\nbig/\n!big/keep.txt\nsecrets\n");
        Write("app/main.py", "print('hello')\n");
        Write("app/data/table.csv", "a,b\n1,2\n");
        Write("debug.log", "noise\n");
        Write("big/blob.bin", "lots of bytes");
        Write("big/keep.txt", "kept although big/ is ignored\n");
        Write("secrets/token", "not sent");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private void Write(string path, string text)
    {
        var full = Path.Combine(_directory, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }

    private BuildContext Context() => BuildContext.Of(_directory);

    private Task<string> HashAsync(string? target = null, params (string, string)[] args) =>
        Context().HashAsync(args.Select(a => new KeyValuePair<string, string>(a.Item1, a.Item2)), target, CancellationToken.None);

    [Fact]
    public void What_is_sent_follows_the_dockerignore_in_lexical_order()
    {
        Context().Entries().Select(e => e.Kind == ContextEntryKind.Directory ? e.Path + "/" : e.Path).Should().Equal(
            ".dockerignore", "Dockerfile", "app/", "app/data/", "app/data/table.csv", "app/main.py", "big/keep.txt");
    }

    [Fact]
    public async Task The_tar_stream_holds_exactly_what_is_sent_with_its_content_and_root_owners()
    {
        using var tar = new MemoryStream();
        await Context().WriteTarAsync(tar, CancellationToken.None);
        tar.Position = 0;

        var entries = new Dictionary<string, string>();
        using var reader = new TarReader(tar);
        while (await reader.GetNextEntryAsync() is { } entry)
        {
            entry.Uid.Should().Be(0);
            entry.Gid.Should().Be(0);
            entries[entry.Name] = entry.DataStream is null ? string.Empty : await new StreamReader(entry.DataStream).ReadToEndAsync();
        }

        entries.Keys.Should().Equal(".dockerignore", "Dockerfile", "app/", "app/data/", "app/data/table.csv", "app/main.py", "big/keep.txt");
        entries["big/keep.txt"].Should().Be("kept although big/ is ignored\n");
    }

    [Fact]
    public async Task The_hash_is_stable_and_ignores_times_and_what_is_ignored()
    {
        var first = await HashAsync();
        first.Should().StartWith(BuildContext.HashPrefix).And.HaveLength(BuildContext.HashPrefix.Length + 64);

        File.SetLastWriteTimeUtc(Path.Combine(_directory, "app", "main.py"), DateTime.UtcNow.AddDays(-3));
        Write("debug.log", "other noise");
        Write("big/blob.bin", "other bytes");
        Write("secrets/token", "changed");

        (await HashAsync()).Should().Be(first, "times and ignored files are not sent");
    }

    [Fact]
    public async Task The_hash_changes_with_a_file_a_mode_the_dockerfile_an_argument_or_the_target()
    {
        var before = await HashAsync();
        var seen = new HashSet<string> { before };

        Write("app/main.py", "print('changed')\n");
        seen.Add(await HashAsync()).Should().BeTrue("a file's content changed");

        File.SetUnixFileMode(Path.Combine(_directory, "app", "main.py"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        seen.Add(await HashAsync()).Should().BeTrue("a file's mode changed");

        Write("app/new.py", string.Empty);
        seen.Add(await HashAsync()).Should().BeTrue("a file was added");

        Write("big/keep.txt", "kept, and changed\n");
        seen.Add(await HashAsync()).Should().BeTrue("a kept file under an ignored directory changed");

        Write("Dockerfile", "FROM scratch\nCOPY . /srv\n");
        seen.Add(await HashAsync()).Should().BeTrue("the Dockerfile changed");

        var files = await HashAsync();
        seen.Add(await HashAsync(null, ("VERSION", "2"))).Should().BeTrue("an argument");
        seen.Add(await HashAsync(null, ("VERSION", "3"))).Should().BeTrue("its value");
        seen.Add(await HashAsync("runtime")).Should().BeTrue("the target");
        (await HashAsync(null, ("B", "2"), ("A", "1"))).Should().Be(await HashAsync(null, ("A", "1"), ("B", "2")), "arguments count by name, not order");
        (await HashAsync()).Should().Be(files);
    }

    [Fact]
    public async Task A_large_file_is_streamed_never_held_in_memory()
    {
        const long size = 96L << 20;
        using (var big = File.Create(Path.Combine(_directory, "app", "model.bin")))
        {
            big.SetLength(size); // sparse: costs no disk, reads as zeros
        }

        var context = Context();
        var sink = new CountingStream();
        await context.WriteTarAsync(sink, CancellationToken.None); // warm-up (JIT, pools)
        sink = new CountingStream();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        await context.WriteTarAsync(sink, CancellationToken.None);
        await context.HashAsync([], null, CancellationToken.None);
        var used = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        sink.Written.Should().BeGreaterThan(size, "the file is in the stream");
        used.Should().BeLessThan(8L << 20, "the tar and the hash read files as streams, in pooled buffers");
    }

    [Fact]
    public void A_missing_context_or_dockerfile_is_one_line_with_the_fix()
    {
        var build = new ResolvedBuild { Context = "./services/api", ContextPath = Path.Combine(_directory, "services", "api"), Location = new SourceLocation("schema.yaml", 12, 7) };
        var missing = () => BuildContext.Open("api", build);
        missing.Should().Throw<PipelineException>().WithMessage(
            "service 'api': build context './services/api' (schema.yaml:12:7) does not exist: put the service's sources there*, map its image with --image-map, or remove build:");

        var noDockerfile = () => BuildContext.Open("api", build with { ContextPath = _directory, Dockerfile = "Dockerfile.prod" });
        noDockerfile.Should().Throw<PipelineException>().WithMessage("service 'api': dockerfile 'Dockerfile.prod' does not exist in build context*");
    }

    /// <summary>A sink that counts what is written and keeps nothing.</summary>
    private sealed class CountingStream : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Written += count;

        public override void Write(ReadOnlySpan<byte> buffer) => Written += buffer.Length;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written += buffer.Length;
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Written += count;
            return Task.CompletedTask;
        }
    }
}
