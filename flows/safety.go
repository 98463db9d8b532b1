package flows

import (
	"bytes"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The safety classifier. Every piece of free text a user sends is read for crisis language
// (self-harm, suicide) before anything else happens to it. It answers in three tiers:
//
//   - SafetyCrisis: clear crisis language — intent, a plan or means, a farewell, self-harm in
//     any tense, passive wishes to be dead — also misspelled, without apostrophes, or in slang.
//     The dialogue stops and the crisis answer is given.
//   - SafetyAmbiguous: phrasing that is usually a figure of speech at work ("I'm killing myself
//     to hit this target", "a suicide mission", "I could die of embarrassment"), crisis words
//     about someone else, and crisis words under a negation ("I'm not suicidal, just tired").
//     The user is asked one check question.
//   - SafetyNone: nothing of the kind.
//
// It errs on the side of caution: a needless check question costs a tap, a miss costs far
// more. The rules are measured on the labelled corpus in testdata/safety (see
// safety_test.go), a fifth of which is held out.
//
// How it reads text: the text is folded to lower-case word tokens (apostrophes dropped, so
// "don't" and "dont" are the same; "wanna" read as "want to"; "my self" as "myself"; a few
// look-alike digits inside words read as letters), and words of five or more letters that
// are one edit away from a key word ("suicde", "myslef") are read as that key word, unless
// they are real words ("billing" is not "killing"). Sentence and clause punctuation become
// boundary tokens that no rule crosses by accident. Then phrase rules are matched over the
// token string. A rule that describes an everyday use ("cut myself some slack") or an idiom
// ("killing myself to hit this target") covers, and so overrides, the bare crisis match
// inside it; a negation just before a crisis match ("I would never hurt myself"), a
// third-person subject ("my colleague is suicidal") or a quotation of someone else lowers it
// to ambiguous.

// SafetyTier is how worrying a piece of text is.
type SafetyTier int

// The tiers, in increasing order of concern.
const (
	SafetyNone      SafetyTier = iota // nothing of concern
	SafetyAmbiguous                   // possibly a figure of speech: ask the check question
	SafetyCrisis                      // clear crisis language: stop and give the crisis answer
)

// String returns the tier's name, as used in metrics and test output.
func (t SafetyTier) String() string {
	switch t {
	case SafetyNone:
		return "none"
	case SafetyAmbiguous:
		return "ambiguous"
	case SafetyCrisis:
		return "crisis"
	}
	return "SafetyTier(" + strconv.Itoa(int(t)) + ")"
}

// Safety is what ClassifySafety found. Rules and Words say why (for tests and metrics); they
// hold the user's own words, so they are never logged with the user's identity or text.
type Safety struct {
	Tier  SafetyTier
	Rules []string // the names of the rules that decided the tier, e.g. "intent", "idiom/kill-myself"
	Words []string // the normalized words each of those rules matched, in the same order
}

// IsCrisis reports whether text contains clear crisis language. It is ClassifySafety's
// crisis tier, kept for callers that need only yes or no.
func IsCrisis(text string) bool { return ClassifySafety(text).Tier == SafetyCrisis }

// maxSafetyRunes bounds the text read, so a pathological input costs bounded time. It is
// well above MaxAnswerRunes; longer text is read in its first maxSafetyRunes runes and its
// last ones, where a plea is most likely to be.
const maxSafetyRunes = 6000

// ClassifySafety reads text for crisis language and returns its tier and the reasons.
func ClassifySafety(text string) Safety {
	// A rune takes at least a byte, so only a text longer in bytes can be too long in runes.
	if len(text) > maxSafetyRunes && utf8.RuneCountInString(text) > maxSafetyRunes {
		r := []rune(text)
		text = string(r[:maxSafetyRunes/2]) + "\n" + string(r[len(r)-maxSafetyRunes/2:])
	}
	sc := safetyScratches.Get().(*safetyScratch)
	defer safetyScratches.Put(sc)
	norm := sc.normalize(text)
	if len(norm) == 0 {
		return Safety{}
	}
	hits := findHits(norm, &sc.lc)
	if len(hits) == 0 {
		// Almost every answer ends here, having allocated nothing: the filter ran no
		// expression, or none matched.
		return Safety{}
	}
	return decide(string(norm), hits)
}

// decide turns the hits in norm into the result: covering rules, negation, third persons
// and quotations, then the highest tier with its reasons.
func decide(norm string, hits []hit) Safety {
	// Idioms and everyday uses override the bare crisis phrase they contain.
	for i := range hits {
		h := &hits[i]
		if h.rule.tier != SafetyCrisis && h.rule.tier != SafetyAmbiguous {
			continue
		}
		for _, o := range hits {
			if o.rule.cover && o.rule.tier < h.rule.tier && o.start <= h.start && h.end <= o.end && (o.start < h.start || h.end < o.end || o.rule != h.rule) {
				h.tier = -1 // covered
				break
			}
		}
	}
	for i := range hits {
		h := &hits[i]
		if h.tier != SafetyCrisis {
			continue
		}
		switch {
		case h.rule.negatable && negated(norm[:h.start]):
			h.tier, h.name = SafetyAmbiguous, h.name+"/negated"
		case h.rule.person && thirdPerson(norm[:h.start]):
			h.tier, h.name = SafetyAmbiguous, h.name+"/third-person"
		case quotedByOther(norm[:h.start]):
			h.tier, h.name = SafetyAmbiguous, h.name+"/quoted"
		}
	}
	var out Safety
	for _, h := range hits {
		if h.tier > out.Tier {
			out = Safety{Tier: h.tier}
		}
		if h.tier == out.Tier && h.tier > SafetyNone {
			out.Rules = append(out.Rules, h.name)
			out.Words = append(out.Words, norm[h.start:h.end])
		}
	}
	return out
}

// safetyScratch is the working memory of one ClassifySafety call. It is pooled so that an
// answer no rule matches, almost every answer, is read without allocating: the text is
// normalised into norm, not into a string, and the filter and the expressions read bytes.
type safetyScratch struct {
	runes []rune // the text as runes: tokenize looks at neighbours on both sides
	toks  []byte // the tokens, one after another
	ends  []int  // where each token ends in toks
	norm  []byte // the normalised text
	lc    litCheck
}

// safetyScratches holds spare scratches: memory only, no state from one call to the next.
var safetyScratches = sync.Pool{New: func() any { return new(safetyScratch) }}

// allSafetyRules is the set of every rule, for findHits without a filter.
var allSafetyRules = func() ruleSet {
	var s ruleSet
	for i := range safetyRules {
		s.add(i)
	}
	return s
}()

// sentenceBreak separates sentences in the normalised text; no rule crosses one.
const sentenceBreak = " . "

// indexSentenceBreak is bytes.Index(b, sentenceBreak), found by the '.' in the middle: a
// search led by the space stops at every word.
func indexSentenceBreak(b []byte) int {
	from := 0
	for {
		i := bytes.IndexByte(b[from:], '.')
		if i < 0 {
			return -1
		}
		i += from
		if i > 0 && i+1 < len(b) && b[i-1] == ' ' && b[i+1] == ' ' {
			return i - 1
		}
		from = i + 1
	}
}

// findHits matches the rules against norm, sentence by sentence. With lc set, a rule runs
// on a sentence only when the sentence holds the strings every match of the rule needs
// (safety_filter.go): regular expressions are costly and almost every sentence can match
// none of them. With lc nil every rule runs (the tests compare the two).
func findHits(norm []byte, lc *litCheck) []hit {
	var hits []hit
	off := 0
	for off < len(norm) {
		end := indexSentenceBreak(norm[off:])
		if end < 0 {
			end = len(norm)
		} else {
			end += off
		}
		sentence := norm[off:end]
		cand := allSafetyRules
		if lc != nil {
			cand = lc.reset(sentence)
		}
		// The candidates in ascending order, as the rules are listed: hits come in that order.
		for w, word := range cand {
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &^= 1 << b
				r := &safetyRules[w*64+b]
				if lc != nil && !r.filter.mayMatch(lc) {
					continue
				}
				for _, m := range r.re.FindAllSubmatchIndex(sentence, -1) {
					// Group 1 is the phrase itself; the rest of the match is context.
					hits = append(hits, hit{rule: r, start: off + m[2], end: off + m[3], tier: r.tier, name: r.name})
				}
			}
		}
		off = end + len(sentenceBreak)
	}
	return hits
}

type hit struct {
	rule       *safetyRule
	start, end int
	tier       SafetyTier
	name       string
}

// safetyRule is one phrase rule.
type safetyRule struct {
	name string
	tier SafetyTier
	re   *regexp.Regexp
	// cover: a match of this rule overrides any match of a more severe rule inside it.
	cover bool
	// negatable: a negation just before the match lowers crisis to ambiguous.
	negatable bool
	// person: a third-person subject just before the match lowers crisis to ambiguous.
	person bool
	// filter: the strings a sentence must hold for the rule to match it.
	filter litFilter
}

// Macros for the rules, expanded before compiling. Tokens are separated by single spaces;
// "," and "." are boundary tokens.
var safetyMacros = strings.NewReplacer(
	"{to}", `(?:to|too|2)`,
	"{a}", `(?:(?:just|really|so|honestly|seriously|actually|literally|kinda|kind of|sort of|lowkey|genuinely|truly|still|even|sometimes|often|always|already|also|definitely|probably|totally|finally|simply|badly|desperately|secretly|quietly|then|now|rather|better|all|of) )*`,
	"{w}", `[^ ,.]+`,
	"{gap}", `(?:[^ ,.]+ ){0,3}`,
	"{end}", `(?: [,.]|$)`,
	"{me}", `(?:i|im|ive|id|ill)`,
	"{others}", `(?:everyone|everybody|every1|people|they|theyd|theyll|the world|world|my family|family|my kids|my children|my parents|my wife|my husband|my partner|my friends|friends|the team|my team|all|them all|they all|everyone else|everybody else|the people around me)`,
	"{nobody}", `(?:nobody|no one|noone|no1|nobody else|not a single person|not one person)`,
	"{wish}", `(?:want|wanted|wanting|wants|wish|wished|wishing|would like|id like|like|need|needed|ready|decided|deciding|deserve|hope|hoping|pray|praying|plan|planning|planned|intend|intending|prefer|rather|tempted|urge)`,
	"{think}", `(?:think|thinking|thought|thoughts|dream|dreaming|dreamt|fantasize|fantasizing|fantasise|fantasising|obsess|obsessing|obsessed|considering|consider|considered|contemplating|contemplate|contemplated|researching|researched|research|googling|googled|looking up|looked up|look up|searching|searched) (?:about|of|on|for|into|up)?`,
	"{selfkill}", `(?:kill|killing|killin|killed|kills|end|ending|ended|off|offing|offed|unalive|unaliving|unalived|hang|hanging|hanged|hung|shoot|shooting|shot|drown|drowning|drowned|poison|poisoning|poisoned|suffocate|suffocating|gas|gassing|electrocute|electrocuting|delete|deleting|erase|erasing|murder|murdering)`,
	"{selfharm}", `(?:hurt|hurting|hurts|harm|harming|harmed|harms|injure|injuring|injured|burn|burning|burned|burnt|burns|cut|cutting|cuts|scratch|scratching|scratched|hit|hitting|hits|bruise|bruising|bruised|starve|starving|starved|choke|choking|choked|strangle|strangling|strangled|stab|stabbing|stabbed|mutilate|mutilating|mutilated|punch|punching|punched|beat|beating|slice|slicing|sliced|slash|slashing|slashed)`,
	"{means}", `(?:pills|tablets|meds|medication|medications|medicine|painkillers|sleeping pills|paracetamol|tylenol|ibuprofen|aspirin|insulin|antidepressants|rope|noose|gun|pistol|knife|razor|razors|blade|blades)`,
)

func rx(p string) *regexp.Regexp {
	// Group 1 is the phrase; optional context before it may sit outside the group.
	return regexp.MustCompile(`(?:^| )` + safetyMacros.Replace(p) + `(?: |$)`)
}

// The rules. Group 1 of each is the phrase that decides; words around it are context.
// Names are stable: metrics and tests use them.
var safetyRules = withFilters([]safetyRule{
	// --- Clear crisis: intent and method in so many words.
	{name: "self-kill", tier: SafetyCrisis, negatable: true, re: rx(`({selfkill} myself)`)},
	{name: "self-kill", tier: SafetyCrisis, negatable: true, re: rx(`({wish} {to} {a}(?:kill|end|hurt|harm|unalive|off|hang|shoot|drown|cut|burn|poison) myself)`)},
	{name: "end-life", tier: SafetyCrisis, negatable: true, re: rx(`((?:end|ending|ended|take|taking|took|finish|finishing) (?:my|my own|this) life)`)},
	{name: "suicide", tier: SafetyCrisis, negatable: true, person: true, re: rx(`((?:suicide|suicidal|suicidality|sewerslide|suicide note|suicidal thoughts|suicidal ideation))`)},
	{name: "unalive", tier: SafetyCrisis, negatable: true, person: true, re: rx(`(unalive|unaliving|unalived)`)},
	{name: "kms", tier: SafetyCrisis, re: rx(`(kms|kmsl)`)},
	{name: "end-it", tier: SafetyCrisis, negatable: true, re: rx(`((?:end|ending) it all)`)},
	{name: "end-it", tier: SafetyCrisis, negatable: true, re: rx(`((?:{wish}|going|ready|decided|planning|plan) {to} {a}(?:end|ending) (?:it|things|everything)(?: all| now| tonight| today| for good| forever| already| once and for all)?){end}`)},
	{name: "end-it", tier: SafetyCrisis, negatable: true, re: rx(`((?:{me}|night i|day i|i will|i) {a}(?:end|ending) (?:it|things|everything)(?: all| now| tonight| today| for good| forever| already)?){end}`)},
	{name: "want-die", tier: SafetyCrisis, negatable: true, re: rx(`({wish} {to} ?{a}(?:die|dei|be dead|not exist|not be alive|stop existing|stop living|not live|not wake up|never wake up|disappear forever|disappear for good|sleep forever|go to sleep forever|fall asleep forever|be in a coffin|be six feet under|be in the ground|be in my grave|die tonight|die today|be with \w+ in heaven))`)},
	{name: "want-die", tier: SafetyCrisis, negatable: true, re: rx(`({wish} {to} ?{a}(?:dye|be gone|be gone forever|be gone for good)){end}`)},
	{name: "want-die", tier: SafetyCrisis, negatable: true, re: rx(`((?:{me}|i) {a}(?:going to|about to) {a}die)`)},
	{name: "want-die", tier: SafetyCrisis, negatable: true, re: rx(`((?:should|must|may as well|might as well) {a}(?:die|be dead)){end}`)},
	{name: "want-die", tier: SafetyCrisis, re: rx(`((?:wish|wished|wishing) (?:i|id|that i|that id) (?:was|were|had been|been|could be|would be|be) (?:dead|gone|never born|not born|not alive|not here anymore))`)},
	{name: "want-die", tier: SafetyCrisis, re: rx(`((?:wish|wished|wishing) (?:i|id|that i|that id) (?:had )?(?:never|wasnt|werent|hadnt) (?:been )?(?:born|alive|existed))`)},
	{name: "want-die", tier: SafetyCrisis, re: rx(`((?:wish|wished|wishing) (?:i|that i) (?:didnt|did not|wouldnt|could not|couldnt|dont) (?:exist|wake up|live))`)},
	{name: "want-die", tier: SafetyCrisis, re: rx(`((?:wish|wished|wishing|hope|hoping|pray|praying) (?:i|id|ill|that i|that id) (?:could |would |will |just |might )*(?:die|not wake up|never wake up|stop existing|sleep forever|be dead))`)},
	{name: "want-die", tier: SafetyCrisis, re: rx(`(why am i (?:(?:even|still|even still) )*(?:alive|living|breathing|existing))`)},
	{name: "want-die", tier: SafetyCrisis, re: rx(`((?:hate|hating|loathe|sick of) (?:being alive|living|existing|being born))`)},
	{name: "want-die", tier: SafetyCrisis, re: rx(`((?:no way out|only way out|way out is|only option|only answer|only solution|only escape) (?:except |but |is |left |would be )*(?:dying|death|to die|suicide|killing myself|ending it|ending my life))`)},
	{name: "want-die", tier: SafetyCrisis, re: rx(`((?:except|but|other than|besides) (?:dying|death|suicide|killing myself|to die|ending it|ending my life))`)},
	{name: "better-off", tier: SafetyCrisis, re: rx(`(better off (?:dead|six feet under|in the ground|in a grave|gone|not alive|not existing))`)},
	{name: "better-off", tier: SafetyCrisis, re: rx(`(better (?:off )?without me)`)},
	{name: "better-off", tier: SafetyCrisis, re: rx(`((?:better off|happier|relieved|easier|better) if (?:i|im) (?:was |were |wasnt |werent |just |had |never |didnt |ever )*(?:dead|gone|died|killed myself|here|around|alive|exist|existed|born|disappeared|not here|not around))`)},
	{name: "nobody-miss", tier: SafetyCrisis, re: rx(`({nobody} (?:(?:would|will|is going to|going to|even|really|ever|actually) )*(?:miss|notice|care about|cry for|mourn|remember) me)`)},
	{name: "nobody-miss", tier: SafetyCrisis, re: rx(`({nobody} (?:(?:would|will|is going to|going to|even|really|ever|actually) )*(?:miss|notice|care|cry|mourn)(?: me)? if (?:i|im) (?:(?:was|were|just|ever|finally|had) )*(?:gone|dead|died|disappeared|killed myself|wasnt here|wasnt around|didnt exist|not here|not around))`)},
	{name: "wake-up", tier: SafetyCrisis, re: rx(`((?:never|not|dont|to not|and not) (?:want to |to |ever |have to )?wake up)`)},
	{name: "not-alive", tier: SafetyCrisis, re: rx(`((?:dont|didnt|no longer|never) (?:want|wish|care) {to} ?{a}(?:be alive|live|exist|be living|keep living|go on living|be around|be on this earth|be in this world))`)},
	{name: "not-alive", tier: SafetyCrisis, re: rx(`((?:{wish}|{me}) {to} ?{a}not (?:exist|be alive|be around|live))`)},
	{name: "not-alive", tier: SafetyCrisis, re: rx(`((?:cant|couldnt) (?:go on|keep) (?:living|being alive|existing))`)},
	{name: "no-point", tier: SafetyCrisis, re: rx(`((?:no point|no reason|pointless|no use|whats the point|why bother|why even|why should i) (?:in |of |to |for )?(?:living|life|being alive|go on|going on|keep living|keep going on|existing|exist|live|being here|waking up|wake up|be alive|stay alive|staying alive|trying to live))`)},
	{name: "no-point", tier: SafetyCrisis, re: rx(`((?:nothing|nobody|no one|no reason) (?:left )?(?:to live for|worth living for))`)},
	{name: "no-point", tier: SafetyCrisis, re: rx(`((?:life|my life|living|this life|existence) (?:isnt|aint|is no longer|will never be|doesnt feel|no longer feels|isnt even) (?:worth|worth it|worth living|worth the pain))`)},
	{name: "no-point", tier: SafetyCrisis, re: rx(`((?:life|my life|living|existence) (?:is|feels|seems|has become) (?:so |completely |totally )?(?:pointless|meaningless))`)},
	{name: "no-point", tier: SafetyCrisis, re: rx(`((?:not|no longer|never) worth living)`)},
	{name: "no-point", tier: SafetyCrisis, re: rx(`((?:dont|cant|no longer|never) (?:even )?see (?:the|any|a) (?:point|reason|purpose) (?:in |of |to |for )?(?:living|life|being alive|going on|go on|live|existing|staying alive))`)},
	{name: "no-point", tier: SafetyCrisis, re: rx(`((?:life|my life|living|existence) (?:has no|has lost its|has lost all|holds no) (?:meaning|point|purpose))`)},
	{name: "no-point", tier: SafetyCrisis, re: rx(`((?:cant|couldnt) (?:do|handle|take|stand) (?:life|living|being alive|existing)(?: anymore| any more| any longer)?)`)},
	{name: "tired-of-life", tier: SafetyCrisis, re: rx(`((?:tired|sick|done|finished|exhausted|weary) (?:of|with) (?:living|life|being alive|existing|existence))`)},
	{name: "think-death", tier: SafetyCrisis, re: rx(`({think} {a}(?:dying|death|being dead|suicide|ending it|ending things|ending my life|taking my life|killing myself|not being here|not being alive|my funeral|my own funeral|overdosing|hanging myself|ways to die|how to die|how to kill myself|wanting to die|not waking up))`)},
	{name: "think-death", tier: SafetyCrisis, re: rx(`({think} {a}jumping){end}`)},
	{name: "think-death", tier: SafetyCrisis, re: rx(`((?:thoughts|thought|ideation|urges|urge|fantasies) (?:of|about) (?:ending|taking|killing|dying|death|suicide|not being|hurting myself|harming myself|self harm|cutting))`)},
	{name: "think-death", tier: SafetyCrisis, re: rx(`((?:ways|way|how|methods|method) to (?:die|kill myself|end my life|overdose|do it painlessly))`)},
	{name: "plan", tier: SafetyCrisis, re: rx(`((?:plan|plans|planned|planning|a plan) (?:to|for|of) (?:how to |when to )?(?:end it|end things|end everything|end my life|kill myself|die|not be here|suicide|go through with it|do it tonight))`)},
	{name: "plan", tier: SafetyCrisis, re: rx(`((?:know|decided|figured out|worked out|planned|picked|chosen|chose) (?:exactly )?(?:how|when|where|the day|the date|the time|the way|the method) (?:im|i will|ill|i|to) (?:going to )?(?:die|end it|kill myself|end my life))`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:bought|buy|buying|got|get|getting|made|make|making|found|looking at|look at|looked at|staring at|stare at|set up|setting up|hid|hidden|hide|hiding|ordered|order) (?:(?:a|the|my|some|up|enough) )*rope)`)},
	{name: "means", tier: SafetyCrisis, re: rx(`(noose|nooses)`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:all|enough|whole bottle of|bottle of|bunch of|handful of|handfuls of|stockpile|stockpiled|stockpiling|saving|saved|saving up|saved up|hoarding|hoarded|collecting|collected|stashing|stashed|stash of|counting|counted|take all|taking all|took all|swallow all|swallowed all) (?:of )?(?:my |the |up |these |those )?(?:pills|tablets|meds|medication|painkillers|sleeping pills|paracetamol|tylenol|insulin|antidepressants))`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:take|took|taking|swallow|swallowed|swallowing|down|downed|downing) (?:a |the )?(?:whole |entire )?(?:bottle|handful|handfuls|box|packet|pack|lot) of (?:pills|tablets|meds|painkillers|sleeping pills|paracetamol))`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:pills|tablets|meds|rope|gun|knife|razor|blade|blades|noose) (?:are |is )?(?:ready|lined up|laid out|in my hand|counted|saved up|saved|stockpiled|stashed|hoarded|hidden|in front of me|next to me))`)},
	{name: "means", tier: SafetyCrisis, re: rx(`(how many (?:pills|tablets|of these|paracetamol|sleeping pills) (?:it would take|would it take|does it take|to take|would kill|it takes|to die|kill))`)},
	{name: "means", tier: SafetyCrisis, negatable: true, person: true, re: rx(`(overdose|overdosing|overdosed|overdoses)`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:jump|jumping|jumped|leap|leaping|leapt|throw myself|throwing myself|threw myself|yeet myself|fling myself) (?:off|from|of|out of|over) (?:a |the |my |this |that |our |an )?(?:bridge|roof|rooftop|building|balcony|cliff|ledge|tower|window|overpass|parking garage|car park|highrise|high rise|tall building|top floor))`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:jump|jumping|jumped|step|stepping|stepped|walk|walking|walked|throw myself|throwing myself|lie down|lay down|lying down) (?:in front of|infront of|under|onto) (?:a |the |an |oncoming )?(?:train|bus|truck|lorry|car|tram|subway|traffic|tracks|metro))`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:drive|driving|drove|crash|crashing|crashed|steer|steering|swerve|swerving|ram|ramming) (?:my car |the car |my bike |myself )?(?:into|off|in front of) (?:a |the |an |oncoming )?(?:wall|tree|road|bridge|cliff|oncoming|traffic|truck|lorry|river|lake|sea|pole|barrier))`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:crash|crashing|wreck|wrecking|drive|driving) (?:my |the )?(?:car|bike) (?:on purpose|deliberately|intentionally))`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:bullet|bullets|gun|pistol|shotgun) (?:in|into|through|to) (?:my |the )?(?:head|mouth|brain|temple|skull))`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:use|using|used|turn|turning|turned|point|pointing) (?:it|the gun|a gun|my gun|them|the pills|the knife|the rope|the blade) on myself)`)},
	{name: "means", tier: SafetyCrisis, re: rx(`((?:slit|slitting|slash|slashing|cut|cutting|slice|slicing) (?:open )?(?:my |both )?(?:wrist|wrists|veins|throat))`)},
	{name: "farewell", tier: SafetyCrisis, re: rx(`((?:goodbye|good bye) (?:letter|letters|note|notes))`)},
	{name: "farewell", tier: SafetyCrisis, re: rx(`((?:this is|consider this|heres|here is|this will be) (?:my |the )?(?:goodbye|final goodbye|last goodbye|the end for me)(?: forever| for good)?){end}`)},
	{name: "farewell", tier: SafetyCrisis, re: rx(`(by the time (?:you|anyone|someone|they) (?:read|reads|see|sees|get|gets|find|finds) this)`)},
	{name: "farewell", tier: SafetyCrisis, re: rx(`((?:wont|not going to|dont think ill) be (?:around|here|alive) (?:much longer|for long|anymore|any more|after tonight|to see|by morning|next year))`)},
	{name: "farewell", tier: SafetyCrisis, re: rx(`((?:when|after|once|if) im (?:gone|dead|not here anymore|not around anymore)){end}`)},
	{name: "farewell", tier: SafetyCrisis, re: rx(`((?:giving|gave|given|give) away (?:(?:all|most) )?(?:of )?my (?:things|stuff|belongings|possessions|everything))`)},
	{name: "farewell", tier: SafetyCrisis, re: rx(`((?:say|saying|said) goodbye to (?:the world|life|this world|everyone forever|you all forever|everyone for the last time))`)},
	{name: "farewell", tier: SafetyCrisis, re: rx(`((?:goodbye|bye|farewell) (?:cruel world|world|forever)|(?:goodbye|bye) (?:everyone|everybody|all)(?: [,.])? (?:this is it|forever|for good|for the last time|its over|im done))`)},
	{name: "farewell", tier: SafetyCrisis, re: rx(`((?:letter|letters|note|notes|messages|videos) to (?:{w} ){1,3}(?:saying|to say) goodbye)`)},
	{name: "self-harm", tier: SafetyCrisis, negatable: true, person: true, re: rx(`(self (?:harm|harming|harmed|harms|injury|injure|injuring|injured|injures|mutilation|mutilate|mutilating))`)},
	{name: "self-harm", tier: SafetyCrisis, negatable: true, re: rx(`({selfharm} myself)`)},
	{name: "self-harm", tier: SafetyCrisis, re: rx(`((?:{me}|been|started|start|keep|kept|relapsed|relapse|back to|urge to|want to|need to) {a}(?:cutting|cut)(?: myself)?(?: again)?){end}`)},
	{name: "self-harm", tier: SafetyCrisis, person: true, re: rx(`((?:cutting|self harming) again)`)},
	{name: "self-harm", tier: SafetyCrisis, re: rx(`((?:{me}|been|started|start|keep|kept|relapsed) {a}(?:cut|harmed|burned|burnt) (?:myself )?again)`)},
	{name: "self-harm", tier: SafetyCrisis, re: rx(`((?:urge|urges|craving|cravings|tempted|temptation) (?:to|for) (?:cut|self harm|hurt myself|harm myself|burn myself|cutting))`)},
	{name: "self-harm", tier: SafetyCrisis, re: rx(`(until (?:i|my \w+|it|they) (?:bleed|bleeds|bled|bleeding))`)},
	{name: "self-harm", tier: SafetyCrisis, re: rx(`((?:cut|cutting|burn|burning|burned|scratch|scratching|slash|slashing) (?:my |both )?(?:arm|arms|thigh|thighs|legs|skin|stomach|wrist|wrists))(?: {w}){0,2}(?: again| on purpose| last night| tonight|{end})`)},

	// --- Ambiguous: crisis words about someone else, and words that are often venting.
	{name: "third-person", tier: SafetyAmbiguous, re: rx(`((?:kill|killing|killed|hurt|hurting|harm|harming|end|ending|cut|cutting|unalive|unaliving|hang|hanged|hanging|shot|shoot|off) (?:himself|herself|themselves|themself))`)},
	{name: "third-person", tier: SafetyAmbiguous, re: rx(`((?:end|ending|ended|take|taking|took) (?:his|her|their) (?:own )?life)`)},
	{name: "kill-me", tier: SafetyAmbiguous, re: rx(`((?:kill|shoot|end) me (?:now|already|please|right now|today))`)},
	{name: "kill-me", tier: SafetyAmbiguous, re: rx(`((?:just|please|somebody|someone) (?:kill|shoot|end) me)`)},
	{name: "kys", tier: SafetyAmbiguous, re: rx(`(kys)`)},
	{name: "not-here", tier: SafetyAmbiguous, re: rx(`((?:dont|didnt|no longer) (?:want|wish) {to} ?{a}be here(?: anymore| any more)?)`)},
	{name: "not-here", tier: SafetyAmbiguous, re: rx(`((?:wish|wished) (?:i|that i) (?:wasnt|werent) here)`)},
	{name: "cant-go-on", tier: SafetyAmbiguous, re: rx(`((?:cant|couldnt) (?:do this|take this|take it|go on|keep going|keep doing this|handle this|cope|carry on|bear it|bear this)(?: anymore| any more| any longer| like this)?){end}`)},
	{name: "cant-go-on", tier: SafetyAmbiguous, re: rx(`((?:cant|couldnt) (?:go on|keep going|carry on) like this)`)},
	{name: "disappear", tier: SafetyAmbiguous, re: rx(`({wish} {to} ?{a}(?:disappear|vanish|not be around|run away forever)){end}`)},
	{name: "disappear", tier: SafetyAmbiguous, re: rx(`((?:wish|wished) (?:i|that i) (?:could |would )?(?:just )?(?:disappear|vanish))`)},
	{name: "burden", tier: SafetyAmbiguous, re: rx(`((?:{me}|am|feel like|feel|being|just) {a}(?:a |such a |the )?burden(?: to (?:everyone|everybody|my family|them|you all|the team|everyone on this team))?)`)},
	{name: "make-it-stop", tier: SafetyAmbiguous, re: rx(`({wish} (?:it|this|everything|all|the pain|it all|this all) (?:all )?{to} (?:end|stop|be over))`)},
	{name: "hopeless", tier: SafetyAmbiguous, re: rx(`((?:feel|feeling|felt|am|im|so|completely|totally) (?:so |completely |totally |utterly )?(?:hopeless|worthless|empty inside|numb inside))`)},
	{name: "hopeless", tier: SafetyAmbiguous, re: rx(`((?:nothing matters|whats the point of anything|no point in anything|give up on everything|given up on everything|giving up on everything|tired of everything|done with everything|done with it all|no way out))`)},
	{name: "hopeless", tier: SafetyAmbiguous, re: rx(`((?:give up|giving up|given up|gave up) on (?:life|living|myself))`)},
	{name: "dead-inside", tier: SafetyAmbiguous, re: rx(`(dead inside)`)},
	{name: "goodbye", tier: SafetyAmbiguous, re: rx(`((?:saying|said|say) (?:my )?goodbyes?(?: to (?:everyone|everybody|you all|all of you|my family))?)(?: before i go| for good|{end})`)},
	{name: "not-around", tier: SafetyAmbiguous, re: rx(`((?:wont) be (?:around|here|alive) (?:tomorrow|next week|for the|on))`)},
	{name: "plan", tier: SafetyAmbiguous, re: rx(`((?:know|decided|figured out|worked out|planned|picked|chosen|chose) (?:exactly )?(?:how|when|where) (?:im|i will|ill|i) (?:going to )?do it){end}`)},
	{name: "edge", tier: SafetyAmbiguous, re: rx(`((?:standing|stood|sitting|sat|im|am|was|climbed|climbing) (?:on|onto|at) (?:the |a )?(?:edge of the |edge of a )?(?:roof|rooftop|ledge|edge|bridge|railing|tracks|cliff))`)},
	{name: "want-out", tier: SafetyAmbiguous, re: rx(`((?:i|just|really|{me}) (?:want|need) out){end}`)},
	{name: "hate-life", tier: SafetyAmbiguous, re: rx(`((?:hate|hating) my life)`)},
	{name: "walls", tier: SafetyAmbiguous, re: rx(`((?:punch|punching|punched|hit|hitting) (?:walls|the wall|a wall))`)},
	{name: "crash", tier: SafetyAmbiguous, re: rx(`((?:crash|wreck) (?:the|my) car)`)},
	{name: "hit-by-bus", tier: SafetyAmbiguous, re: rx(`((?:hit|run over|killed) by a (?:bus|truck|car|train|lorry))`)},
	{name: "rope", tier: SafetyAmbiguous, re: rx(`((?:have|had|keep|kept|tie|tied|tying) (?:(?:a|the|my|some) )*rope)`)},
	{name: "gun-to-head", tier: SafetyAmbiguous, cover: true, re: rx(`(gun to (?:my|his|her|their|our) head)`)},
	{name: "could-die", tier: SafetyAmbiguous, re: rx(`((?:could|nearly|almost|would|wanted to) (?:(?:have|just|literally|honestly) )*(?:die|died)(?: of (?:embarrassment|shame|cringe)| when| inside)?)`)},
	{name: "rather-die", tier: SafetyAmbiguous, cover: true, re: rx(`((?:rather|sooner) (?:just )?(?:die|be dead|be shot|kill myself) than)`)},

	// --- Idioms that are usually figures of speech: ambiguous, and they override the bare
	// crisis phrase inside them.
	{name: "idiom/kill-myself", tier: SafetyAmbiguous, cover: true, re: rx(`((?:killing|killin|kill) myself (?:to|trying|for|over|on|with|at|working|just to|every|doing|getting|making|here|this|these|day and night|hitting|chasing))`)},
	{name: "idiom/kill-myself", tier: SafetyAmbiguous, cover: true, re: rx(`((?:could|couldve|could have|going to) (?:just )?kill myself (?:for|over|when|that|because|if))`)},
	{name: "idiom/going-to-die", tier: SafetyAmbiguous, cover: true, re: rx(`((?:(?:{me}|i) )?(?:going to|about to) {a}die (?:if|of|when|before|after|from|in|at|here|laughing|on))`)},
	{name: "idiom/suicide", tier: SafetyAmbiguous, cover: true, re: rx(`(suicide (?:mission|missions|run|runs|move|job))`)},
	{name: "idiom/suicide", tier: SafetyAmbiguous, cover: true, re: rx(`((?:career|political|professional|social|commercial|corporate|brand|financial|reputational|business|electoral) suicide)`)},
	{name: "idiom/cut-myself", tier: SafetyAmbiguous, cover: true, re: rx(`((?:cut|cutting|cuts) myself (?:off|short))`)},
	{name: "idiom/hurt-myself", tier: SafetyAmbiguous, cover: true, re: rx(`({selfharm} myself (?:if|when i|laughing|by))`)},
	{name: "idiom/better-off", tier: SafetyAmbiguous, cover: true, re: rx(`(better (?:off )?without me (?:on|leading|in this|in the|in charge|at|running|as|managing|there|here|for this))`)},
	{name: "want-die", tier: SafetyCrisis, re: rx(`((?:life|living|everything|existing|being alive|my life|it all) (?:just )?(?:makes|made|making) me (?:just )?want {to} (?:just )?(?:die|kill myself|end it|end it all|not exist))`)},
	{name: "idiom/makes-me", tier: SafetyAmbiguous, cover: true, re: rx(`((?:makes|made|making|make) me (?:just )?want {to} (?:just )?(?:die|kill myself|end it all))`)},
	{name: "idiom/die-of", tier: SafetyAmbiguous, cover: true, re: rx(`({wish} {to} {a}die (?:of|from) (?:embarrassment|shame|cringe))`)},
	{name: "idiom/could-kill-myself", tier: SafetyAmbiguous, cover: true, re: rx(`((?:could|couldve|could have) (?:just |honestly |literally )?kill myself){end}`)},
	{name: "idiom/wake-up", tier: SafetyAmbiguous, cover: true, re: rx(`((?:and |to )?not wake up (?:until|till|before))`)},

	// --- Everyday uses: nothing to ask about; they override the crisis phrase inside them.
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:cut|cutting|cuts) myself (?:some |a little |a bit of |a )?(?:slack|break))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:cut|cutting|burn|burned|burnt|burning|hurt|hurting|injured|injure|hit|hitting|scratched|bruised) myself (?:shaving|cooking|chopping|slicing|ironing|baking|gardening|opening|playing|lifting|running|skiing|cycling|jogging|training|climbing|moving|while|by accident|accidentally|at the gym|at the|in the|on the|on a|on my|on some|with the|with a|working out|falling|when i fell|badly at))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:beat|beating|burn|burning|burned|burnt) myself (?:up|out))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:shot|shoot|shooting) myself in the foot)`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:throw|throwing|threw|thrown) myself under (?:the|a) bus)`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:(?:nearly|almost) )?(?:killed|kill|killing) myself (?:laughing|with laughter))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:hurt|hurting|injured|injure|cut|burned|burnt) myself trying to (?:lift|move|carry|open|fix|reach|catch|climb|get|install|assemble|push|pull|cook|chop))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:(?:want|wanted|willing|ready|going|prepared|happy|about) {to} )?die on (?:this|that|the) hill)`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:drown|drowning|drowned|bury|burying|kill|killing) myself (?:in|with) (?:work|coffee|tea|paperwork|emails|email|tasks|tickets|projects|meetings|busywork|admin|books|netflix|spreadsheets))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`(suicide (?:squad|prevention|awareness|doors|door|sprint|sprints|drill|drills|bomber|bombers|bombing|bombings|risk assessment|statistics|rates|rate|blonde|king))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:overdose|overdosed|overdosing|od) on (?:caffeine|coffee|sugar|chocolate|meetings|slides|emails|memes|content|carbs|tea|energy drinks))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:{w} )?(?:(?:a|the) )?(?:rope ladder|jump rope|skipping rope|climbing rope|tow rope|the ropes|ropes course|rope bridge|jump ropes))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:(?:could|nearly|almost|would|going to) (?:(?:have|just) )*)?(?:died|die|dying) (?:laughing|of laughter|of boredom|of hunger|of heat|to know|to see|to try|for a)|dying (?:my|her|his) hair)`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:goodbye|farewell) (?:letters|letter|notes|note|messages|message) (?:from|by|of) (?:the|our|old|a|my|his|her|their))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:wont) be (?:around|here) (?:tomorrow|next week|on \w+)(?: [^.]*)? (?:on leave|on holiday|on vacation|off|at the dentist|dentist|doctor|appointment|sick|travelling|traveling|ooo|out of office|pto|leave|conference|offsite|training|course))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:and |to )?not wake up (?:in time|on time|early))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`((?:disappear|vanish) (?:into|to|for (?:a|the|an) (?:week|day|bit|while|month|hour|weekend)))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`(end it all (?:hands|hand))`)},
	{name: "everyday", tier: SafetyNone, cover: true, re: rx(`([0-9]+ (?:kms|km))`)},
})

// negators lower a crisis match right after them to ambiguous; fillers may stand between.
var negators = map[string]bool{"not": true, "never": true, "dont": true, "didnt": true, "doesnt": true, "wont": true, "wouldnt": true, "isnt": true, "arent": true, "wasnt": true, "nor": true, "neither": true, "havent": true, "hadnt": true, "hardly": true}

var negationFillers = map[string]bool{"i": true, "im": true, "am": true, "was": true, "be": true, "been": true, "going": true, "to": true, "would": true, "will": true, "ever": true, "really": true, "actually": true, "that": true, "saying": true, "say": true, "said": true, "mean": true, "like": true, "its": true, "it": true, "feel": true, "feeling": true, "want": true, "trying": true, "gonna": true, "planning": true, "do": true, "at": true, "all": true, "id": true, "ill": true, "could": true, "can": true, "seriously": true, "literally": true, "a": true, "bit": true, "so": true}

// negated reports whether the text just before a match (before) ends in a negation.
func negated(before string) bool {
	var buf [5]string
	for _, w := range lastWords(before, buf[:]) {
		if negators[w] {
			return true
		}
		if !negationFillers[w] {
			return false
		}
	}
	return false
}

var firstPersonWords = map[string]bool{"i": true, "im": true, "ive": true, "id": true, "ill": true, "me": true, "myself": true, "mine": false}

var thirdPersonWords = map[string]bool{
	"he": true, "she": true, "they": true, "hes": true, "shes": true, "theyre": true, "theyve": true, "theyd": true,
	"him": true, "her": true, "his": true, "their": true, "them": true, "someone": true, "somebody": true, "someones": true,
	"colleague": true, "colleagues": true, "coworker": true, "coworkers": true, "friend": true, "friends": true, "brother": true,
	"sister": true, "mom": true, "mum": true, "dad": true, "mother": true, "father": true, "son": true, "daughter": true,
	"kid": true, "report": true, "boss": true, "manager": true, "teammate": true, "partner": true, "husband": true, "wife": true,
	"boyfriend": true, "girlfriend": true, "uncle": true, "aunt": true, "cousin": true, "neighbour": true, "neighbor": true,
	"people": true, "employee": true, "client": true, "student": true, "patient": true, "guy": true, "man": true, "woman": true,
	"person": true, "relative": true, "grandma": true, "grandpa": true, "character": true, "movie": true, "film": true,
	"song": true, "book": true, "article": true, "news": true, "team": true, "members": true, "member": true,
	"we": true, "were": true, "weve": true, "our": true, "us": true, "company": true, "finance": true, "management": true,
}

// thirdPerson reports whether the clause before a match names someone else before it names
// the user: "my brother died by suicide", "she's been feeling suicidal".
func thirdPerson(before string) bool {
	var buf [8]string
	for _, w := range lastWords(before, buf[:]) {
		if w == "," || w == "." {
			return false
		}
		if firstPersonWords[w] {
			return false
		}
		if thirdPersonWords[w] {
			return true
		}
	}
	return false
}

var speechVerbs = map[string]bool{"said": true, "says": true, "joked": true, "jokes": true, "wrote": true, "writes": true, "texted": true, "posted": true, "tweeted": true, "yelled": true, "shouted": true, "sang": true, "sings": true, "quoted": true, "told": true, "titled": true, "called": true}

// quotedByOther reports whether a match sits in a quotation that someone other than the
// user said: `he joked "kms" in standup`. The user quoting their own thought (`the story
// is "I'd be better off dead"`) is not lowered.
func quotedByOther(before string) bool {
	i := strings.LastIndex(before, quoteOpen)
	if i < 0 || strings.Contains(before[i:], quoteClose) {
		return false
	}
	// The four words before the quotation, and the one before those to see who spoke.
	var buf [5]string
	ws := lastWords(before[:i], buf[:])
	for k := 0; k < len(ws) && k < 4; k++ {
		if speechVerbs[ws[k]] {
			return k+1 == len(ws) || !firstPersonWords[ws[k+1]]
		}
	}
	return false
}

// lastWords fills buf with the last words of s, the last first, as far as buf goes, and
// returns them: strings.Fields(s) read backwards and cut short. The checks above look
// only a few words back from a match, and cutting the whole text before each match made
// a long answer with many matches cost time and memory quadratic in its length.
func lastWords(s string, buf []string) []string {
	n, end := 0, len(s)
	for n < len(buf) {
		for end > 0 { // the spaces after the word
			r, size := utf8.DecodeLastRuneInString(s[:end])
			if !unicode.IsSpace(r) {
				break
			}
			end -= size
		}
		if end == 0 {
			break
		}
		start := end
		for start > 0 {
			r, size := utf8.DecodeLastRuneInString(s[:start])
			if unicode.IsSpace(r) {
				break
			}
			start -= size
		}
		buf[n] = s[start:end]
		n++
		end = start
	}
	return buf[:n]
}

// Quotation marks become these boundary-like tokens in the normalized text.
const (
	quoteOpen  = "«"
	quoteClose = "»"
)

// normalize folds text into the token string the rules read, in sc.norm, and returns it:
// the text's tokens (tokenize), with wordForms and tokenPairs read as what they stand for,
// misspelled key words as the key word (fuzzyKey), and no boundary token first, last or
// after another. The tokens are written straight into sc.norm, one space apart, with no
// string per token and no list of them. safety_ref_test.go keeps the plain version it
// must agree with.
func (sc *safetyScratch) normalize(text string) []byte {
	sc.tokenize(text)
	out := sc.norm[:0]
	n := len(sc.ends)
	for i := 0; i < n; i++ {
		t := sc.tok(i)
		// One lookup says whether the token starts a pair or is a word form; most are neither.
		if e, ok := lookupLexicon(t); ok {
			if i+1 < n {
				if words := e.pairWith(sc.tok(i + 1)); words != nil {
					out = appendTokens(out, words)
					i++
					continue
				}
			}
			if e.form != nil {
				out = appendTokens(out, e.form)
				continue
			}
		}
		if k := fuzzyKey(t); k != "" {
			out = appendToken(out, k)
		} else {
			out = appendToken(out, t)
		}
	}
	// appendToken never writes a boundary first or after another, so a last one follows a
	// word and its space.
	if l := len(out); l > 0 && (out[l-1] == ',' || out[l-1] == '.') {
		out = out[:l-2]
	}
	sc.norm = out
	return out
}

// appendToken appends token t to the normalised text out, after a space unless it is the
// first. A boundary token ("," or ".") is dropped first and after another boundary, where
// "." replaces ",": clauses and sentences are separated once, the stronger way. (A word
// never ends in "," or ".", so out's last byte says what came last.)
func appendToken[T string | []byte](out []byte, t T) []byte {
	if len(t) == 1 && (t[0] == ',' || t[0] == '.') {
		if len(out) == 0 {
			return out
		}
		if last := out[len(out)-1]; last == ',' || last == '.' {
			if t[0] == '.' {
				out[len(out)-1] = '.'
			}
			return out
		}
	}
	if len(out) > 0 {
		out = append(out, ' ')
	}
	return append(out, t...)
}

func appendTokens(out []byte, words []string) []byte {
	for _, w := range words {
		out = appendToken(out, w)
	}
	return out
}

// tok returns token i of the text tokenize read last.
func (sc *safetyScratch) tok(i int) []byte {
	from := 0
	if i > 0 {
		from = sc.ends[i-1]
	}
	return sc.toks[from:sc.ends[i]]
}

// leet reads digits and signs written inside words as the letters they stand for (0 for
// any other rune).
func leet(r rune) rune {
	switch r {
	case '1', '!':
		return 'i'
	case '3':
		return 'e'
	case '0':
		return 'o'
	case '4', '@':
		return 'a'
	case '$', '5':
		return 's'
	case '7':
		return 't'
	}
	return 0
}

// tokenize splits text into lower-case word tokens and boundary tokens, written one after
// another into sc.toks, token i ending at sc.ends[i].
func (sc *safetyScratch) tokenize(text string) {
	rs := sc.runes[:0]
	for _, r := range text { // as []rune(text): an invalid byte is one U+FFFD
		rs = append(rs, r)
	}
	buf := sc.toks[:0]
	ends := sc.ends[:0] // where each token ends in buf
	// The word being read is buf[word:], written as its letters come. Runs of three or more
	// of the same letter are read as one ("diiiie" → "die"): last is the word's last letter
	// and run how many times in a row it came.
	word := 0
	var last rune
	run := 0
	letter := func(r rune) {
		if len(buf) > word && r == last {
			run++
			switch run {
			case 2:
				buf = utf8.AppendRune(buf, r)
			case 3:
				buf = buf[:len(buf)-utf8.RuneLen(r)] // the two become one
			}
			return
		}
		last, run = r, 1
		buf = utf8.AppendRune(buf, r)
	}
	flush := func() {
		if len(buf) > word {
			ends = append(ends, len(buf))
			word = len(buf)
		}
	}
	add := func(tok string) {
		buf = append(buf, tok...)
		ends = append(ends, len(buf))
		word = len(buf)
	}
	inQuote := false
	isLetter := func(i int) bool { return i >= 0 && i < len(rs) && unicode.IsLetter(rs[i]) }
	for i, r := range rs {
		// Lower-case letters and spaces are most of any answer: they skip the switch, and
		// go where it would send them.
		if 'a' <= r && r <= 'z' {
			if len(buf) > word && r == last {
				letter(r) // a run
			} else {
				last, run = r, 1
				buf = append(buf, byte(r))
			}
			continue
		}
		if r == ' ' {
			flush()
			continue
		}
		switch {
		case unicode.IsLetter(r):
			letter(unicode.ToLower(r))
		case unicode.IsDigit(r) && len(buf) == word && !isLetter(i+1):
			// A number on its own ("300 kms"): kept as a token.
			j := i
			for j < len(rs) && unicode.IsDigit(rs[j]) {
				j++
			}
			if i == 0 || !unicode.IsDigit(rs[i-1]) {
				for _, d := range rs[i:j] {
					buf = utf8.AppendRune(buf, d)
				}
				ends = append(ends, len(buf))
				word = len(buf)
			}
		case unicode.IsDigit(r) && i > 0 && unicode.IsDigit(rs[i-1]):
			// The rest of a number, already taken.
		case leet(r) != 0 && (isLetter(i-1) && (isLetter(i+1) || i+1 < len(rs) && leet(rs[i+1]) != 0 && isLetter(i+2))):
			letter(leet(r))
		case leet(r) != 0 && unicode.IsDigit(r) && isLetter(i+1) && len(buf) == word:
			letter(leet(r))
		case r == '\'' || r == '’' || r == '‘' || r == '`' || r == 'ʼ':
			// Apostrophes vanish inside words: don't → dont.
			if len(buf) == word || !isLetter(i+1) {
				flush()
			}
		case r == '"' || r == '“' || r == '”' || r == '«' || r == '»' || r == '„':
			flush()
			open := r == '“' || r == '«' || r == '„' || r == '"' && !inQuote
			if r == '”' || r == '»' {
				open = false
			}
			inQuote = open
			if open {
				add(quoteOpen)
			} else {
				add(quoteClose)
			}
		case r == '.' || r == '!' || r == '?' || r == ';' || r == '\n' || r == '…':
			flush()
			add(".")
		case r == ',' || r == ':' || r == '—' || r == '–' || r == '(' || r == ')' || r == '[' || r == ']':
			flush()
			add(",")
		case r == '-' && len(buf) > word && isLetter(i+1):
			// self-harm → self harm
			flush()
		default:
			flush()
		}
	}
	flush()
	sc.runes, sc.toks, sc.ends = rs, buf, ends
}

// wordForms are single tokens read as others: slang, contractions, common misspellings of
// short key words that edit distance would not safely catch.
var wordForms = map[string]string{
	"wanna": "want to", "wana": "want to", "gonna": "going to", "gunna": "going to", "finna": "going to",
	"tryna": "trying to", "gotta": "got to", "wnat": "want", "wamt": "want", "wnt": "want", "whant": "want",
	"kil": "kill", "kll": "kill", "kiil": "kill", "kilk": "kill", "klll": "kill", "kilingg": "killing",
	"selfharm": "self harm", "selfharming": "self harming", "selfharmed": "self harmed", "selfharms": "self harms",
	"u": "you", "ur": "your", "wud": "would", "wd": "would", "cud": "could",
	"cannot": "cant", "noone": "no one", "nobodys": "nobody", "everyones": "everyone", "bc": "because",
	"tmrw": "tomorrow", "tmr": "tomorrow", "2nite": "tonight", "tonite": "tonight", "rn": "right now",
	"prolly": "probably", "kinda": "kind of", "sorta": "sort of", "myslef": "myself", "mysef": "myself",
	"dieing": "dying",
}

// tokenPairs are two tokens read as one.
var tokenPairs = map[[2]string]string{
	{"my", "self"}: "myself", {"un", "alive"}: "unalive", {"i", "m"}: "im", {"do", "not"}: "dont",
	{"can", "not"}: "cant", {"will", "not"}: "wont", {"i", "am"}: "im", {"i", "have"}: "ive",
	{"i", "would"}: "id", {"i", "had"}: "id", {"i", "will"}: "ill", {"is", "not"}: "isnt",
	{"does", "not"}: "doesnt", {"did", "not"}: "didnt", {"would", "not"}: "wouldnt", {"was", "not"}: "wasnt",
	{"are", "not"}: "arent", {"it", "is"}: "its", {"there", "is"}: "theres", {"what", "is"}: "whats",
	{"they", "would"}: "theyd", {"self", "harm"}: "self harm", {"sewer", "slide"}: "sewerslide",
	{"no", "body"}: "nobody", {"no", "1"}: "no one",
}

// safetyLexicon is wordForms and tokenPairs as normalize reads them: keyed by a word form
// or the first token of a pair, so that one lookup serves a token (most find nothing), with
// the readings split into tokens and key words' misspellings read, once.
var safetyLexicon = func() map[string]lexEntry {
	m := map[string]lexEntry{}
	for w, reading := range wordForms {
		e := m[w]
		e.form = fuzzedFields(reading)
		m[w] = e
	}
	for p, reading := range tokenPairs {
		e := m[p[0]]
		e.pairs = append(e.pairs, lexPair{second: p[1], words: fuzzedFields(reading)})
		m[p[0]] = e
	}
	return m
}()

// lexiconSigs has bit lexiconSig(w) set for every word w of safetyLexicon.
var lexiconSigs = func() (set [lexiconSigBits / 64]uint64) {
	for w := range safetyLexicon {
		h := lexiconSig([]byte(w))
		set[h/64] |= 1 << (h % 64)
	}
	return set
}()

const lexiconSigBits = 4096

// lexiconSig is a token's first and last bytes and length, hashed.
func lexiconSig(t []byte) uint {
	return (uint(t[0])*263 + uint(t[len(t)-1])*7 + uint(len(t))) % lexiconSigBits
}

// lookupLexicon is safetyLexicon[string(t)] for a token (never empty). Most tokens are no
// word of it, and the bit of their lexiconSig says so without hashing them.
func lookupLexicon(t []byte) (lexEntry, bool) {
	if h := lexiconSig(t); lexiconSigs[h/64]&(1<<(h%64)) == 0 {
		return lexEntry{}, false
	}
	e, ok := safetyLexicon[string(t)]
	return e, ok
}

type lexEntry struct {
	form  []string  // the word form's reading, if the token is one
	pairs []lexPair // the pairs the token starts
}

type lexPair struct {
	second string
	words  []string
}

// pairWith returns the reading of the token and next as a pair, or nil.
func (e lexEntry) pairWith(next []byte) []string {
	for _, p := range e.pairs {
		if string(next) == p.second {
			return p.words
		}
	}
	return nil
}

// fuzzedFields splits a reading into tokens, each as fuzzyKey reads it.
func fuzzedFields(reading string) []string {
	ws := strings.Fields(reading)
	for i, w := range ws {
		if k := fuzzyKey([]byte(w)); k != "" {
			ws[i] = k
		}
	}
	return ws
}

// fuzzyKeys are the key words of five or more letters that a misspelling one edit away
// still means. Shorter words are too close to everyday ones.
var fuzzyKeys = []string{"suicide", "suicidal", "myself", "killing", "overdose", "overdosing", "unalive", "unaliving", "living", "alive", "wrists", "harming", "hurting", "noose"}

// realWords are real words one edit away from a fuzzy key: they mean themselves.
var realWords = map[string]bool{
	"billing": true, "filling": true, "willing": true, "milling": true, "tilling": true, "pilling": true, "killings": true,
	"overdoes": true, "giving": true, "diving": true, "loving": true, "liking": true, "lining": true, "liming": true,
	"riving": true, "jiving": true, "hiving": true, "livings": true, "olive": true, "alike": true, "alice": true, "aline": true,
	"writs": true, "wrests": true, "farming": true, "warming": true, "charming": true, "harping": true, "harking": true,
	"hurling": true, "hunting": true, "hurtling": true, "loose": true, "moose": true, "goose": true, "noise": true,
	"nooses": true, "suicides": false, "himself": true, "itself": true, "thyself": true, "oneself": true, "herself": true,
	"yourself": true, "kilning": true, "skilling": true, "spilling": true, "chilling": true, "hulling": true,
	"alive": true, "alien": true, "alines": true, "above": true, "glide": true, "aside": true,
}

// fuzzyKeyLetters are the letterSets of fuzzyKeys.
var fuzzyKeyLetters = func() []uint32 {
	out := make([]uint32, len(fuzzyKeys))
	for i, k := range fuzzyKeys {
		out[i] = letterSet([]byte(k))
	}
	return out
}()

// letterSet is the set of bytes in w, one bit for each of 'a' to 'z' and one for any other.
func letterSet(w []byte) uint32 {
	var m uint32
	for _, b := range w {
		if 'a' <= b && b <= 'z' {
			m |= 1 << (b - 'a')
		} else {
			m |= 1 << 26
		}
	}
	return m
}

// fuzzyKey returns the key word t misspells, or "" when t is a key word or misspells none.
// A key word means itself even when an earlier key is one edit away from it.
func fuzzyKey(t []byte) string {
	if len(t) < 5 {
		return ""
	}
	m := letterSet(t)
	misspelled := ""
	for i, k := range fuzzyKeys {
		if d := len(t) - len(k); d < -1 || d > 1 {
			continue
		}
		// One edit adds at most one letter to a word's set of letters and takes at most one
		// away: two bit tests rule out almost every word before it is compared.
		km := fuzzyKeyLetters[i]
		if more, less := m&^km, km&^m; more&(more-1) != 0 || less&(less-1) != 0 {
			continue
		}
		if string(t) == k {
			return ""
		}
		if misspelled == "" && osa1(t, k) {
			misspelled = k
		}
	}
	// Only now: few words are one edit from a key, and of those the real words mean
	// themselves ("billing" is not "killing").
	if misspelled != "" && realWords[string(t)] {
		return ""
	}
	return misspelled
}

// osa1 reports whether a and b are within one edit (insert, delete, substitute, or swap of
// two neighbours) of each other. Both are short, so bytes are compared; non-ASCII letters
// simply count as differences.
func osa1(a []byte, b string) bool {
	if string(a) == b {
		return true
	}
	la, lb := len(a), len(b)
	i := 0
	for i < la && i < lb && a[i] == b[i] {
		i++
	}
	switch {
	case la == lb:
		if string(a[i+1:]) == b[i+1:] {
			return true // substitution
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && string(a[i+2:]) == b[i+2:] // swap
	case la == lb+1:
		return string(a[i+1:]) == b[i:]
	case lb == la+1:
		return b[i+1:] == string(a[i:])
	}
	return false
}
