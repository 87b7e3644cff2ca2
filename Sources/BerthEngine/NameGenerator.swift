/// Docker-style random container names: `adjective_surname` (a short excerpt of moby's lists),
/// with a digit appended on retries.
enum NameGenerator {
    static let left = [
        "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful",
        "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending",
        "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager",
        "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive",
        "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious",
        "great", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring", "intelligent",
        "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest",
        "musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic",
        "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical", "recursing",
        "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange",
        "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
        "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
    ]
    static let right = [
        "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage",
        "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara", "blackwell", "bohr",
        "booth", "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "cerf", "chandrasekhar",
        "chaplygin", "chatelet", "chatterjee", "chebyshev", "clarke", "cohen", "colden", "cori", "cray", "curie",
        "darwin", "davinci", "dijkstra", "dirac", "driscoll", "dubinsky", "easley", "edison", "einstein",
        "elion", "engelbart", "euclid", "euler", "faraday", "feistel", "fermat", "fermi", "feynman", "franklin",
        "galileo", "gates", "goldberg", "goldstine", "goldwasser", "golick", "goodall", "hamilton", "hawking",
        "heisenberg", "hellman", "hermann", "hodgkin", "hoover", "hopper", "hugle", "hypatia", "jackson",
        "jennings", "jepsen", "johnson", "joliot", "kalam", "kapitsa", "keldysh", "kepler", "khorana", "kilby",
        "kirch", "knuth", "lalande", "lamarr", "lamport", "leakey", "leavitt", "lederberg", "lehmann", "lewin",
        "liskov", "lovelace", "lumiere", "mahavira", "margulis", "matsumoto", "maxwell", "mayer", "mccarthy",
        "mcclintock", "meitner", "mendel", "mendeleev", "merkle", "mirzakhani", "montalcini", "moore", "morse",
        "napier", "nash", "neumann", "newton", "nobel", "noether", "northcutt", "noyce", "panini", "pare",
        "pascal", "pasteur", "payne", "perlman", "pike", "poincare", "poitras", "ptolemy", "raman", "ramanujan",
        "ride", "ritchie", "robinson", "rosalind", "rubin", "saha", "sammet", "shamir", "shannon", "shaw",
        "shirley", "shockley", "sinoussi", "snyder", "spence", "stonebraker", "sutherland", "swanson", "swartz",
        "swirles", "tesla", "thompson", "torvalds", "turing", "varahamihira", "visvesvaraya", "volhard",
        "wescoff", "wiles", "williams", "wilson", "wing", "wozniak", "wright", "wu", "yalow", "yonath",
    ]

    static func random(retry: Int = 0) -> String {
        var name = "\(left.randomElement()!)_\(right.randomElement()!)"
        if retry > 0 { name += String(Int.random(in: 0..<10)) }
        return name
    }
}
