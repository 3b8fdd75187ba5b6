using LlmStack.Pipeline;

namespace LlmStack.Pipeline.Tests;

public class MaskingTests
{
    private const string Secret = "hunter2-very-secret";

    private static (MaskingTextWriter Writer, StringWriter Inner) Create()
    {
        var masker = new SecretMasker();
        masker.Register(Secret);
        var inner = new StringWriter();
        return (new MaskingTextWriter(inner, masker), inner);
    }

    [Fact]
    public void A_secret_written_a_character_at_a_time_is_masked()
    {
        // Fault 9: Write(char) went straight to the inner writer.
        var (writer, inner) = Create();
        foreach (var c in $"token={Secret}\n")
        {
            writer.Write(c);
        }

        inner.ToString().Should().Be("token=****\n");
    }

    [Fact]
    public void A_secret_split_across_writes_is_masked()
    {
        var (writer, inner) = Create();
        writer.Write("password: hunter2-");
        writer.Write("very-");
        writer.Write(Secret[13..].ToCharArray(), 0, Secret.Length - 13);
        writer.WriteLine();
        writer.Write(Secret);
        writer.Flush();
        inner.ToString().Should().Be("password: ****" + Environment.NewLine + "****");
    }

    [Fact]
    public void A_prompt_without_a_newline_appears_on_flush()
    {
        var (writer, inner) = Create();
        writer.Write("Type the environment name to confirm: ");
        inner.ToString().Should().BeEmpty();
        writer.Flush();
        inner.ToString().Should().Be("Type the environment name to confirm: ");
    }
}
