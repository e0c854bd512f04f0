//! Oracle codecs: the suite's single judge of well-formedness for EK-ROJ messages, EK-KOR frames,
//! version vectors, LWW order and the commit threshold. No I/O.
