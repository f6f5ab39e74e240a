"""Pinpoint message variables and Handlebars helpers, rendered as a recipient would see them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from openpoint.errors import BadRequest
from templating.render import MAX_EACH, MAX_ITERATIONS, MAX_OUTPUT, check_template, render, variables

ENDPOINT: dict[str, Any] = {
    "Id": "ep-1",
    "Address": "jane@example.com",
    "ChannelType": "EMAIL",
    "CreationDate": "2024-05-01T10:00:00Z",
    "EndpointStatus": "ACTIVE",
    "OptOut": "NONE",
    "Demographic": {"Locale": "en_US", "Platform": "ios", "Timezone": "America/Los_Angeles"},
    "Location": {"City": "Los Angeles", "Country": "US", "PostalCode": "90001"},
    "Attributes": {
        "favorite_colors": ["blue", "red", "green"],
        "Plan": ["gold"],
        "Last Name": ["Doe"],
        "description": ["my first post"],
        "interests": ["<h1>Art</h1>"],
        "IsUserSubscribed": ["true"],
    },
    "Metrics": {"visits": 3.0, "spend": 19.21},
    "User": {
        "UserId": "user-7",
        "UserAttributes": {
            "FirstName": ["jane"],
            "LastName": ["Alejandro"],
            "Last Name": ["Roe"],
            "UserAge": ["22"],
            "StartDate": ["09/19/2020"],
            "FavoriteColors": ["red", "blue", "yellow"],
        },
    },
}


def r(source: str, **extra: Any) -> str | None:
    return render(source, variables(ENDPOINT, extra), html=False)


def refusal(source: str) -> str:
    with pytest.raises(BadRequest) as exc:
        check_template(source, "SMSTemplateRequest.Body")
    return str(exc.value)


class TestVariables:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("{{Attributes.Plan}}", "gold"),
            ("{{Attributes.favorite_colors}}", "blue, red, green"),  # a bare list prints its values
            ("{{Attributes.favorite_colors.[1]}}", "red"),
            ("{{Attributes.[Last Name]}}", "Doe"),
            ("{{User.UserAttributes.[Last Name].[0]}}", "Roe"),
            ("{{User.UserAttributes.FirstName}}", "jane"),
            ("{{User.UserId}}", "user-7"),
            ("{{Demographic.Platform}} {{Demographic.Timezone}}", "ios America/Los_Angeles"),
            ("{{Location.City}}, {{Location.Country}} {{Location.PostalCode}}", "Los Angeles, US 90001"),
            ("{{Metrics.visits}} / {{Metrics.spend}}", "3 / 19.21"),
            ("{{Address}} {{EndpointId}} {{Id}} {{ChannelType}}", "jane@example.com ep-1 ep-1 EMAIL"),
            ("{{OptOut}} {{EndpointStatus}} {{CreationDate}}", "NONE ACTIVE 2024-05-01T10:00:00Z"),
            ("[{{Attributes.Nope}}][{{Nope.Deeper.[3]}}][{{Attributes.Plan.[5]}}]", "[][][]"),
            ("{{Attributes.favorite_colors.length}}", "3"),
            ("{{Attributes}}", ""),  # an object prints nothing, never a Python repr
            ("no variables at all", "no variables at all"),
        ],
    )
    def test_paths(self, source: str, expected: str) -> None:
        assert r(source) == expected

    def test_substitutions_outrank_the_endpoint_lowest_first(self) -> None:
        default_message, channel, per_address = {"Plan": ["dm"]}, {"Plan": ["channel"]}, {"Plan": ["address"]}
        assert render("{{Plan}}", variables(ENDPOINT, default_message)) == "dm"
        assert render("{{Plan}}", variables(ENDPOINT, default_message, channel)) == "channel"
        assert render("{{Plan}}", variables(ENDPOINT, default_message, channel, per_address)) == "address"
        dotted = variables(ENDPOINT, {"User.UserAttributes.FirstName": ["Bo"]})
        assert render("{{User.UserAttributes.FirstName}} {{User.UserId}}", dotted) == "Bo user-7"

    def test_default_substitutions_fill_only_what_is_missing(self) -> None:
        defaults = {"Attributes.Plan": "basic", "Attributes.Code": "none", "Greeting": "Hello", "Empty": "filled"}
        ctx = variables(ENDPOINT, {"Empty": []}, defaults=defaults)
        assert render("{{Attributes.Plan}} {{Attributes.Code}} {{Greeting}} {{Empty}}", ctx) == "gold none Hello filled"
        assert render("{{Greeting}}", variables(ENDPOINT, {"Greeting": ["Hi"]}, defaults=defaults)) == "Hi"

    def test_values_are_never_read_as_templates(self) -> None:
        out = r("Hi {{Name}}", Name=["{{User.UserId}} {% for x in y %}{{#each a}}"])
        assert out == "Hi {{User.UserId}} {% for x in y %}{{#each a}}"


class TestBlocks:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("{{#if Attributes.Plan}}paid{{else}}free{{/if}}", "paid"),
            ("{{#if Attributes.Nope}}paid{{else}}free{{/if}}", "free"),
            ("{{#if Zero}}y{{else}}n{{/if}} {{#if Zero includeZero=true}}y{{/if}}", "n y"),
            ("{{#if Attributes.Nope}}a{{else if Location.City}}b{{else}}c{{/if}}", "b"),
            ("{{#unless Attributes.Nope}}none{{else}}some{{/unless}}", "none"),
            ("{{^Attributes.Nope}}inverted{{/Attributes.Nope}}", "inverted"),
            (
                "{{#each Attributes.favorite_colors}}{{@index}}:{{this}}{{#unless @last}}, {{/unless}}{{/each}}",
                "0:blue, 1:red, 2:green",
            ),
            ("{{#each Attributes.favorite_colors}}{{#if @first}}{{this}}{{/if}}{{/each}}", "blue"),
            ("{{#each Location}}{{@key}}={{this}};{{/each}}", "City=Los Angeles;Country=US;PostalCode=90001;"),
            ("{{#each Attributes.Nope}}x{{else}}You have no favorite colors.{{/each}}", "You have no favorite colors."),
            ("{{#each Attributes.favorite_colors as |color i|}}{{i}}{{color}} {{/each}}", "0blue 1red 2green "),
            (
                "{{#each Attributes.Plan}}{{this}} for {{User.UserId}} at {{../Address}}{{/each}}",
                "gold for user-7 at jane@example.com",
            ),
            ("{{#with Location}}{{City}} ({{Country}}) {{../Id}} {{Id}}{{/with}}", "Los Angeles (US) ep-1 ep-1"),
            ("{{#with Location as |where|}}{{where.City}}{{/with}}", "Los Angeles"),
            ("{{#with Nope}}x{{else}}no location{{/with}}", "no location"),
            (
                "{{#Location}}{{City}}{{/Location}} "
                "{{#Attributes.favorite_colors}}<{{.}}>{{/Attributes.favorite_colors}}",
                "Los Angeles <blue><red><green>",
            ),
            (
                "{{#each User.UserAttributes}}{{#each this}}{{this}}{{/each}}|{{/each}}",
                "jane|Alejandro|Roe|22|09/19/2020|redblueyellow|",
            ),
            ("{{#with Location}}{{this.Id}}|{{@root.Id}}{{/with}}", "|ep-1"),
        ],
    )
    def test_blocks(self, source: str, expected: str) -> None:
        assert r(source, Zero=0) == expected

    def test_each_stops_at_fifteen_items(self) -> None:
        out = r("{{#each Many}}{{this}},{{/each}}", Many=[str(i) for i in range(100)])
        assert out == ",".join(str(i) for i in range(MAX_EACH)) + ","

    def test_a_line_holding_only_a_block_tag_leaves_no_trace(self) -> None:
        source = (
            "Colors:\n{{#each User.UserAttributes.FavoriteColors}}\n  <li>{{this}}</li>\n{{else}}\nnone\n{{/each}}\nBye"
        )
        assert r(source) == "Colors:\n  <li>red</li>\n  <li>blue</li>\n  <li>yellow</li>\nBye"

    def test_tilde_trims_whitespace(self) -> None:
        assert r("a   {{~Location.Country~}}   \n b") == "aUSb"
        assert r("{{#if Location.City~}}\n   yes\n{{~/if}}!") == "yes!"

    def test_comments_and_escaped_braces(self) -> None:
        assert r("a{{! a note }}b{{!-- has }} inside --}}c") == "abc"
        assert r("literal \\{{User.UserId}} and {{User.UserId}}") == "literal {{User.UserId}} and user-7"

    def test_jinja_syntax_is_plain_text(self) -> None:
        assert r("{% if x %}{{User.UserId}}{% endif %}{# c #}") == "{% if x %}user-7{% endif %}{# c #}"
        assert "Jinja2 syntax" in refusal("ok\n{% if x %}yes{% endif %}")
        check_template("50% off {for you}, {{User.UserId}}", "F")


class TestPartials:
    def test_inline_partial(self) -> None:
        source = (
            '{{#* inline "fullName"}}\n'
            "{{User.UserAttributes.FirstName.[0]}}{{#if User.UserAttributes.LastName.[0]}} "
            "{{User.UserAttributes.LastName.[0]}}{{/if}}\n"
            "{{/inline}}\n"
            "Hello {{> fullName}}"
        )
        assert r(source) == "Hello jane Alejandro\n"

    def test_partial_used_before_it_is_defined_and_with_a_context(self) -> None:
        source = '{{> where Location}} {{#* inline "where"}}{{City}}/{{Country}}{{/inline}}'
        assert r(source) == "Los Angeles/US "

    def test_partials_belong_to_the_block_that_defines_them(self) -> None:
        source = '{{#if Id}}{{#* inline "p"}}inner{{/inline}}{{> p}}{{/if}}{{> p}}'
        assert "no partial named 'p'" in refusal(source)


class TestHelpers:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            # conditional, inline and as blocks
            ('{{#and (eq Location.City "Los Angeles") (eq Location.Country "US")}}LA{{else}}elsewhere{{/and}}', "LA"),
            ("{{and Location.City Attributes.Nope}} {{and Location.City Id yes='y' no='n'}}", "false y"),
            ('{{#or (eq Location.City "Seattle") (eq Location.City "Los Angeles")}}west{{else}}east{{/or}}', "west"),
            ("{{or Attributes.Nope Nope.Two}} {{or Attributes.Nope Id yes='y'}}", "false y"),
            ('{{#eq User.UserAttributes.FavoriteColors.[0] "red"}}red!{{else}}not red{{/eq}}', "red!"),
            (
                "{{eq Metrics.visits 3}} {{eq Attributes.Plan \"gold\"}} {{eq 1 2 yes='same' no='different'}}",
                "true true different",
            ),
            ('{{#neq User.UserAttributes.FavoriteColors.[0] "red"}}no{{else}}likes red{{/neq}}', "likes red"),
            ('{{#gt User.UserAttributes.UserAge.[0] "17"}}old enough{{else}}too young{{/gt}}', "old enough"),
            ('{{gt "9" "17"}} {{gt "b" "a"}} {{gte 18 "18"}} {{lt 2 10}} {{lte 3 2}}', "false true true true false"),
            ('{{#lt User.UserAttributes.UserAge.[0] "18"}}minor{{else}}adult{{/lt}}', "adult"),
            ('{{#lte User.UserAttributes.UserAge.[0] "22"}}ok{{/lte}}{{#gte 1 2}}no{{/gte}}', "ok"),
            ('{{#not (eq User.UserAttributes.FavoriteColors.[0] "red")}}no{{else}}likes red{{/not}}', "likes red"),
            ("{{not Attributes.Nope}} {{not Id yes='y' no='n'}}", "true n"),
            ("{{if Id yes='set'}} {{unless Id}}", "set false"),
            ("{{#if (gt Metrics.visits 2)}}regular{{/if}}", "regular"),
            # string
            ('{{abbreviate User.UserAttributes.LastName.[0] 6}} {{abbreviate "short" 10}}', "Ale... short"),
            (
                '{{capitalize Attributes.description.[0]}}|{{capitalize "mY fIRST" fully=true}}',
                "My First Post|My First",
            ),
            ("{{capitalizeFirst Attributes.description.[0]}}", "My first post"),
            (
                '[{{center Location.City size=19}}] [{{center Location.City size=14 pad="*"}}]',
                "[    Los Angeles    ] [*Los Angeles**]",
            ),
            ('{{cut Location.City "e"}} {{cut Location.City}}', "Los Angls LosAngeles"),
            (
                "{{dateFormat User.UserAttributes.StartDate.[0]"
                ' inputFormat="MM/dd/yyyy" outputFormat="full" tz=America/Los_Angeles}}',
                "Saturday, September 19, 2020",
            ),
            (
                '{{dateFormat "2020-09-19T17:30:00Z"}} | {{dateFormat "2020-09-19" outputFormat="short"}}',
                "Sep 19, 2020 | 9/19/20",
            ),
            ('{{dateFormat "2020-09-19T17:30:00Z" outputFormat="long"}}', "September 19, 2020"),
            (
                '{{dateFormat "2020-09-19T17:30:00Z" outputFormat="yyyy-MM-dd HH:mm z XXX" tz="America/Los_Angeles"}}',
                "2020-09-19 10:30 PDT -07:00",
            ),
            (
                '{{dateFormat "2020-09-19T17:30:05Z" outputFormat="EEE, d MMM yy hh:mm:ss a \'at\' X"}}',
                "Sat, 19 Sep 20 05:30:05 PM at Z",
            ),
            (
                "{{inflect 3 apple apples includeCount=false}} | {{inflect 3 apple apples includeCount=true}}",
                "apples | 3 apples",
            ),
            ('{{inflect 1 "apple" "apples" includeCount=true}}', "1 apple"),
            (
                '{{join Attributes.favorite_colors ", "}} '
                '{{join Attributes.favorite_colors "/" prefix="[" suffix="]"}}',
                "blue, red, green [blue/red/green]",
            ),
            ('{{join "a" "b" "-"}}', "a-b"),
            (
                '[{{ljust Location.City 15}}] [{{rjust Location.City 15}}] [{{ljust "ab" size=5 pad="."}}]',
                "[Los Angeles    ] [    Los Angeles] [ab...]",
            ),
            (
                "{{lower User.UserAttributes.LastName.[0]}} {{upper User.UserAttributes.LastName.[0]}}",
                "alejandro ALEJANDRO",
            ),
            (
                "{{ordinalize 1}} {{ordinalize 2}} {{ordinalize 3}} {{ordinalize 4}} "
                "{{ordinalize 11}} {{ordinalize 12}}",
                "1st 2nd 3rd 4th 11th 12th",
            ),
            (
                "{{ordinalize 13}} {{ordinalize 21}} {{ordinalize User.UserAttributes.UserAge.[0]}} {{ordinalize 111}}",
                "13th 21st 22nd 111th",
            ),
            ('{{replace Location.City " " "_"}}', "Los_Angeles"),
            ('{{slugify Location.City}} {{slugify "  Hello, World! Yes "}}', "los-angeles hello-world-yes"),
            ("{{stripTags Attributes.interests.[0]}}", "Art"),
            ("{{substring Location.City 4 9}} {{substring Location.City 4}}", "Angel Angeles"),
            ("{{yesno Attributes.IsUserSubscribed}} {{yesno false}} {{yesno Attributes.Nope}}", "yes no maybe"),
            (
                "{{yesno true yes='Yes'}} {{yesno 'false' no='No'}} {{yesno Attributes.Nope maybe='Maybe'}}",
                "Yes No Maybe",
            ),
            ('{{capitalizeFirst (lower "JANE")}}', "Jane"),
            # math and encoding
            (
                "{{add 5 2.3}} {{subtract 5 2.3}} {{multiply 5 2.3}} {{divide 5 2.3}} {{modulo 7 2}}",
                "7.3 2.7 11.5 2.17391304 1",
            ),
            ("{{add Metrics.visits User.UserAttributes.UserAge.[0]}} {{divide 10 4}} {{multiply 2 3}}", "25 2.5 6"),
            ("{{ceiling 5.23}} {{floor 5.23}} {{round 19.21}} {{round 2.5}} {{round Metrics.spend}}", "6 5 19 3 19"),
            ('{{encode64 "Hello World"}} {{decode64 "SGVsbG8gd29ybGQ="}}', "SGVsbG8gV29ybGQ= Hello world"),
            ('{{md5 "Hello world"}}', "3e25960a79dbc69b674cd4ec67a72c62"),
            ('{{sha256 "Hello World"}}', "a591a6d40bf420404a011733cfb7b190d62c65bf0bcda32b57b277d9ad9f146e"),
            (
                '{{sha512 "Hello World"}}',
                "2c74fd17edafd80e8447b0d46741ee243b7eb74dd2149a0ab1b9246fb30382f2"
                "7e853d8585719e0e67cbda0daa8f51671064615d645ae27acb15bfb1447f459b",
            ),
        ],
    )
    def test_helper(self, source: str, expected: str) -> None:
        check_template(source, "F")
        assert r(source) == expected

    def test_generated_values(self) -> None:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", r("{{uuid}}") or "")
        assert r("{{uuid}}") != r("{{uuid}}")
        assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}", r("{{now}}") or "")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} [A-Z]{3}", r('{{now "yyyy-MM-dd z" tz=America/Los_Angeles}}') or "")

    @pytest.mark.parametrize(
        "source",
        [
            "{{divide 1 0}}",
            "{{abbreviate Location.City 2}}",
            "{{add Location.City 1}}",
            '{{dateFormat "not a date"}}',
            '{{dateFormat "2020-01-01" tz="Mars/Olympus"}}',
            "{{decode64 Location.City}}",
            "{{ljust Location.City -3}}",
            "{{substring Location.City Location.City}}",
            "{{ordinalize 1.5}}",
            "{{center Location.City}}",
        ],
    )
    def test_a_failing_helper_prints_nothing(self, source: str) -> None:
        check_template(source, "F")
        assert r(f"[{source}]") == "[]"

    def test_a_helper_name_alone_reads_the_variable(self) -> None:
        assert r("{{round}} {{lower}}", round=["r"], lower=["l"]) == "r l"


class TestHtml:
    def test_values_are_escaped_in_html_parts_only(self) -> None:
        ctx = variables(ENDPOINT, {"X": ["<b>\"Tom\" & 'Jerry'=`x`</b>"]})
        assert render("<p>{{X}}</p>", ctx, html=True) == (
            "<p>&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&#x3D;&#x60;x&#x60;&lt;/b&gt;</p>"
        )
        assert (
            render("<p>{{{X}}}|{{& X}}</p>", ctx, html=True)
            == "<p><b>\"Tom\" & 'Jerry'=`x`</b>|<b>\"Tom\" & 'Jerry'=`x`</b></p>"
        )
        assert render("{{X}}", ctx) == "<b>\"Tom\" & 'Jerry'=`x`</b>"

    def test_helper_output_is_escaped_too(self) -> None:
        ctx = variables(ENDPOINT, {"X": ["<i>a</i>"]})
        assert render("{{upper X}} {{{upper X}}}", ctx, html=True) == "&lt;I&gt;A&lt;/I&gt; <I>A</I>"


class TestSandbox:
    @pytest.mark.parametrize(
        "source",
        [
            "{{constructor.constructor}}",
            "{{__class__.__mro__}}",
            "{{this.__class__.__init__.__globals__}}",
            "{{@root.__class__.__subclasses__}}",
            "{{Attributes.__class__}}{{Attributes.items}}{{Attributes.keys}}{{Attributes.favorite_colors.pop}}",
            "{{[__class__]}}{{Attributes.[__dict__]}}",
            "{{_hb}}{{_hb.upper}}{{_hb_root}}{{_hb_root.Id}}",
            "{{range}}{{dict}}{{lipsum}}{{cycler}}{{joiner}}{{namespace}}{{self}}{{loop}}",
            "{{#with __class__}}{{__name__}}{{/with}}{{upper __class__}}{{#each __globals__}}{{@key}}{{/each}}",
            "{{#each Attributes.favorite_colors}}{{this.__class__}}{{loop}}{{/each}}",
        ],
    )
    def test_python_internals_are_out_of_reach(self, source: str) -> None:
        check_template(source, "F")
        assert r(source) == ""

    @pytest.mark.parametrize(
        "source",
        [
            "{{ ''.__class__.__mro__ }}",
            "{{constructor.constructor 'return process'}}",
            "{{lookup this '__class__'}}",
            "{{log this}}",
            "{{#> layout}}x{{/layout}}",
            "{{> (whichPartial)}}",
            "{{{{raw}}}}{{x}}{{{{/raw}}}}",
            "{{* decorator}}",
        ],
    )
    def test_anything_beyond_the_supported_syntax_is_refused(self, source: str) -> None:
        refusal(source)
        out = r(source) or ""
        assert "object" not in out and "function" not in out and "0x" not in out

    def test_loops_are_bounded(self) -> None:
        nested = "{{#each L}}" * 8 + "x" + "{{/each}}" * 8  # 15**8 turns if nothing stopped it
        check_template(nested, "F")
        out = r(nested, L=list(range(1_000_000))) or ""
        assert 0 < len(out) <= MAX_ITERATIONS

    def test_output_is_bounded(self) -> None:
        source = "{{#each L}}{{#each L}}{{#each L}}{{{Big}}}{{/each}}{{/each}}{{/each}}"
        out = r(source, L=list(range(15)), Big=["x" * 100_000]) or ""
        assert len(out) == MAX_OUTPUT and set(out) == {"x"}

    def test_helpers_cannot_inflate_text(self) -> None:
        big = ["y" * 100_000]
        assert (
            r("[{{ljust Id 100000000}}][{{center Id size=99999999}}][{{rjust Id 10001 pad=Big}}]", Big=big) == "[][][]"
        )
        assert r('[{{replace Big "y" Big}}]', Big=big) == "[]"
        assert r('{{replace Id "" Big}}', Big=big) == "ep-1"

    def test_partial_bombs_are_refused(self) -> None:
        bomb = "".join(
            f'{{{{#* inline "p{i}"}}}}{{{{> p{i + 1}}}}}{{{{> p{i + 1}}}}}{{{{/inline}}}}' for i in range(25)
        )
        assert "expanded more than 1000 times" in refusal(bomb + '{{#* inline "p25"}}boom{{/inline}}{{> p0}}')
        wide = '{{#* inline "w"}}' + "x" * 10_000 + "{{/inline}}" + "{{> w}}" * 500
        assert "too large once its partials are expanded" in refusal(wide)
        assert "includes itself" in refusal(
            '{{#* inline "a"}}{{> b}}{{/inline}}{{#* inline "b"}}{{> a}}{{/inline}}{{> a}}'
        )

    def test_deep_nesting_is_refused(self) -> None:
        assert "nested too deeply" in refusal("{{#if a}}" * 31 + "{{/if}}" * 31)
        assert "nested too deeply" in refusal("{{#each a}}" * 9 + "{{/each}}" * 9)
        assert "nested too deeply" in refusal("{{upper " + "(lower " * 25 + "x" + ")" * 25 + "}}")
        chain = "{{#if a}}a" + "".join(f"{{{{else if b{i}}}}}{i}" for i in range(200)) + "{{else}}none{{/if}}"
        assert r(chain, b150=["yes"]) == "150"


class TestSyntaxErrors:
    @pytest.mark.parametrize(
        ("source", "line", "reason"),
        [
            ("Hi {{User.UserId", 1, "a tag opened with {{ is never closed"),
            ("one\n<p>\n{{#if x}}\n</p>", 3, "{{#if}} is never closed with {{/if}}"),
            ("a\nb\n{{/if}}", 3, "{{/if}} closes no block"),
            ("{{#if a}}\n{{/each}}", 2, "{{/each}} does not close {{#if}} opened on line 1"),
            ("x\n{{foo Attributes.City}}", 2, "'foo' is not a helper"),
            ("{{#upper x}}{{/upper}}", 1, "upper cannot open a block"),
            ("\n\n{{> nope}}", 3, "no partial named 'nope'"),
            ("{{abbreviate x}}", 1, "abbreviate takes 2 arguments, not 1"),
            ("{{eq a}}", 1, "eq takes 2 arguments, not 1"),
            ("{{center x width=3}}", 1, "center has no option width="),
            ("{{#eq a b yes='y'}}{{/eq}}", 1, "eq has no option yes="),
            ("{{#each}}{{/each}}", 1, "{{#each}} takes one value"),
            ("\n{{else}}", 2, "{{else}} outside a block"),
            ("{{#if a}}{{else}}{{else}}{{/if}}", 1, "a block has a second {{else}}"),
            ("{{!-- never closed", 1, "a comment is never closed"),
            ("{{upper a b=1 c}}", 1, "expected key=value after the first key=value"),
            ("{{{{raw}}}}", 1, "raw blocks {{{{ }}}} are not supported"),
            ("ok\nsecond {{upper\n  (lower x}}", 3, "expected ')'"),
            ("{{a..b}}", 1, "'a..b' is not a valid name"),
            ("{{upper x)}}", 1, "expected a name or a value, found ')'"),
        ],
    )
    def test_refusal_names_the_line(self, source: str, line: int, reason: str) -> None:
        message = refusal(source)
        assert message.startswith(f"Invalid value for SMSTemplateRequest.Body: line {line}: ")
        assert reason in message and message.endswith(".")

    def test_text_that_cannot_parse_is_sent_as_written(self) -> None:
        assert r("Hi {{User.UserId") == "Hi {{User.UserId"
        assert render(None, {}) is None
