import Foundation

/// Label sets the domain tasks use when a job spec gives none.
public enum BuiltinLabels {
    /// CUAD v1's 37 clause categories: (label, official description, answer format).
    /// From the Contract Understanding Atticus Dataset (The Atticus Project), CC BY 4.0.
    public static let cuadClauseTypes: [(label: String, description: String, answerFormat: String)] = [
        ("Expiration Date", "On what date will the contract's initial term expire?", "Date (mm/dd/yyyy) / Perpetual"),
        ("Renewal Term", "What is the renewal term after the initial term expires? This includes automatic extensions and unilateral extensions with prior notice.", "[Successive] number of years/months / Perpetual"),
        ("Notice Period to Terminate Renewal", "What is the notice period required to terminate renewal?", "Number of days/months/year(s)"),
        ("Governing Law", "Which state/country's law governs the interpretation of the contract?", "Name of a US State / non-US Province, Country"),
        ("Most Favored Nation", "Is there a clause that if a third party gets better terms on the licensing or sale of technology/goods/services described in the contract, the buyer of such technology/goods/services under the contract shall be entitled to those better terms?", "Yes/No"),
        ("Non-Compete", "Is there a restriction on the ability of a party to compete with the counterparty or operate in a certain geography or business or technology sector?", "Yes/No"),
        ("Exclusivity", "Is there an exclusive dealing commitment with the counterparty? This includes a commitment to procure all “requirements” from one party of certain technology, goods, or services or a prohibition on licensing or selling technology, goods or services to third parties, or a prohibition on collaborating or working with other parties), whether during the contract or after the contract ends (or both).", "Yes/No"),
        ("No-Solicit of Customers", "Is a party restricted from contracting or soliciting customers or partners of the counterparty, whether during the contract or after the contract ends (or both)?", "Yes/No"),
        ("Competitive Restriction Exception", "This category includes the exceptions or carveouts to Non-Compete, Exclusivity and No-Solicit of Customers above.", "Yes/No"),
        ("No-Solicit of Employees", "Is there a restriction on a party’s soliciting or hiring employees and/or contractors from the counterparty, whether during the contract or after the contract ends (or both)?", "Yes/No"),
        ("Non-Disparagement", "Is there a requirement on a party not to disparage the counterparty?", "Yes/No"),
        ("Termination for Convenience", "Can a party terminate this contract without cause (solely by giving a notice and allowing a waiting period to expire)?", "Yes/No"),
        ("Rofr/Rofo/Rofn", "Is there a clause granting one party a right of first refusal, right of first offer or right of first negotiation to purchase, license, market, or distribute equity interest, technology, assets, products or services?", "Yes/No"),
        ("Change of Control", "Does one party have the right to terminate or is consent or notice required of the counterparty if such party undergoes a change of control, such as a merger, stock sale, transfer of all or substantially all of its assets or business, or assignment by operation of law?", "Yes/No"),
        ("Anti-Assignment", "Is consent or notice required of a party if the contract is assigned to a third party?", "Yes/No"),
        ("Revenue/Profit Sharing", "Is one party required to share revenue or profit with the counterparty for any technology, goods, or services?", "Yes/No"),
        ("Price Restrictions", "Is there a restriction on the ability of a party to raise or reduce prices of technology, goods, or services provided?", "Yes/No"),
        ("Minimum Commitment", "Is there a minimum order size or minimum amount or units per-time period that one party must buy from the counterparty under the contract?", "Yes/No"),
        ("Volume Restriction", "Is there a fee increase or consent requirement, etc. if one party’s use of the product/services exceeds certain threshold?", "Yes/No"),
        ("IP Ownership Assignment", "Does intellectual property created by one party become the property of the counterparty, either per the terms of the contract or upon the occurrence of certain events?", "Yes/No"),
        ("Joint IP Ownership", "Is there any clause providing for joint or shared ownership of intellectual property between the parties to the contract?", "Yes/No"),
        ("License Grant", "Does the contract contain a license granted by one party to its counterparty?", "Yes/No"),
        ("Non-Transferable License", "Does the contract limit the ability of a party to transfer the license being granted to a third party?", "Yes/No"),
        ("Affiliate License-Licensor", "Does the contract contain a license grant by affiliates of the licensor or that includes intellectual property of affiliates of the licensor?", "Yes/No"),
        ("Affiliate License-Licensee", "Does the contract contain a license grant to a licensee (incl. sublicensor) and the affiliates of such licensee/sublicensor?", ""),
        ("Unlimited/All-You-Can-Eat-License", "Is there a clause granting one party an “enterprise,” “all you can eat” or unlimited usage license?", "Yes/No"),
        ("Irrevocable or Perpetual License", "Does the contract contain a license grant that is irrevocable or perpetual?", "Yes/No"),
        ("Source Code Escrow", "Is one party required to deposit its source code into escrow with a third party, which can be released to the counterparty upon the occurrence of certain events (bankruptcy, insolvency, etc.)?", "Yes/No"),
        ("Post-Termination Services", "Is a party subject to obligations after the termination or expiration of a contract, including any post-termination transition, payment, transfer of IP, wind-down, last-buy, or similar commitments?", "Yes/No"),
        ("Audit Rights", "Does a party have the right to audit the books, records, or physical locations of the counterparty to ensure compliance with the contract?", "Yes/No"),
        ("Uncapped Liability", "Is a party’s liability uncapped upon the breach of its obligation in the contract? This also includes uncap liability for a particular type of breach such as IP infringement or breach of confidentiality obligation.", "Yes/No"),
        ("Cap on Liability", "Does the contract include a cap on liability upon the breach of a party’s obligation? This includes time limitation for the counterparty to bring claims or maximum amount for recovery.", "Yes/No"),
        ("Liquidated Damages", "Does the contract contain a clause that would award either party liquidated damages for breach or a fee upon the termination of a contract (termination fee)?", "Yes/No"),
        ("Warranty Duration", "What is the duration of any warranty against defects or errors in technology, products, or services provided under the contract?", "Number of months or years"),
        ("Insurance", "Is there a requirement for insurance that must be maintained by one party for the benefit of the counterparty?", "Yes/No"),
        ("Covenant Not to Sue", "Is a party restricted from contesting the validity of the counterparty’s ownership of intellectual property or otherwise bringing a claim against the counterparty for matters unrelated to the contract?", "Yes/No"),
        ("Third Party Beneficiary", "Is there a non-contracting party who is a beneficiary to some or all of the clauses in the contract and therefore can enforce its rights against a contracting party?", "Yes/No"),
    ]

    /// A typical clause of each CUAD type, written for Dojo (not taken from CUAD) as a second
    /// zero-shot prompt: "LABEL: DESCRIPTION" alone reaches 48% top-1 on the development clauses,
    /// with these averaged in 61% (see the README's eval table).
    public static let cuadClauseExamples: [String: String] = [
        "Expiration Date":
            "This Agreement shall commence on the Effective Date and continue for an initial term of five years, expiring on December 31, unless terminated earlier.",
        "Renewal Term":
            "Upon expiration of the initial term, this Agreement shall automatically renew for successive one-year renewal terms unless either party gives notice of non-renewal.",
        "Notice Period to Terminate Renewal":
            "Either party may elect not to renew this Agreement by giving written notice of non-renewal at least ninety days prior to the end of the then-current term.",
        "Governing Law":
            "This Agreement shall be governed by and construed in accordance with the laws of the State of New York, without regard to its conflict of laws principles.",
        "Most Favored Nation":
            "If Supplier offers any other customer more favorable prices or terms, Supplier shall promptly offer the same more favorable prices and terms to Customer.",
        "Non-Compete":
            "During the term and for two years thereafter, the Company shall not, directly or indirectly, engage in any business that competes with the other party in the Territory.",
        "Exclusivity":
            "Distributor shall be the exclusive distributor of the Products in the Territory, and Company shall not appoint any other distributor or sell the Products to any third party in the Territory.",
        "No-Solicit of Customers":
            "Neither party shall solicit or accept business from any customer or client of the other party, or induce any customer to cease doing business with the other party.",
        "Competitive Restriction Exception":
            "Notwithstanding the foregoing restrictions, nothing in this Agreement shall prevent either party from owning less than five percent of a public company or from selling products outside the Territory.",
        "No-Solicit of Employees":
            "During the term and for one year thereafter, neither party shall solicit for employment or hire any employee or contractor of the other party.",
        "Non-Disparagement":
            "Neither party shall make any statement that disparages or damages the reputation of the other party or its products, officers or directors.",
        "Termination for Convenience":
            "Either party may terminate this Agreement at any time, for any reason or no reason, upon thirty days prior written notice to the other party.",
        "Rofr/Rofo/Rofn":
            "Before selling or licensing the assets to any third party, Company shall first offer them to Partner, who shall have a right of first refusal to purchase on the same terms.",
        "Change of Control":
            "In the event of a change of control of a party, including a merger, acquisition or sale of all or substantially all of its assets, the other party may terminate this Agreement.",
        "Anti-Assignment":
            "Neither party may assign or transfer this Agreement or any of its rights or obligations hereunder without the prior written consent of the other party.",
        "Revenue/Profit Sharing":
            "Licensee shall pay Licensor a royalty equal to ten percent of Net Sales, and the parties shall share the net profits equally.",
        "Price Restrictions":
            "Supplier shall not increase the prices for the Products during the term, and any price change requires the prior written approval of the Buyer.",
        "Minimum Commitment":
            "Customer shall purchase a minimum quantity of Products each year, and if purchases fall below the minimum annual commitment Customer shall pay the shortfall.",
        "Volume Restriction":
            "Licensee may not exceed the maximum number of units, users or copies set forth in the Order, and additional usage above the limit requires additional fees.",
        "IP Ownership Assignment":
            "All intellectual property, inventions and work product developed under this Agreement shall be owned by Company, and Contractor hereby assigns all right, title and interest therein to Company.",
        "Joint IP Ownership":
            "Any intellectual property jointly developed by the parties shall be jointly owned by both parties, each having an undivided interest.",
        "License Grant":
            "Licensor hereby grants to Licensee a non-exclusive, worldwide license to use, reproduce and distribute the Licensed Technology and trademarks.",
        "Non-Transferable License":
            "The license granted herein is non-transferable and non-sublicensable, and Licensee may not sublicense, assign or transfer it to any third party.",
        "Affiliate License-Licensor":
            "The license includes intellectual property owned by Licensor and its Affiliates, and Licensor shall cause its Affiliates to grant such rights.",
        "Affiliate License-Licensee":
            "Licensee and its Affiliates may use the licensed rights, and the license extends to Licensee's subsidiaries and affiliated companies.",
        "Unlimited/All-You-Can-Eat-License":
            "Licensee may make an unlimited number of copies and deploy the software for an unlimited number of users at no additional charge.",
        "Irrevocable or Perpetual License":
            "Licensor grants Licensee a perpetual, irrevocable, fully paid-up license to use the Technology.",
        "Source Code Escrow":
            "Licensor shall deposit the source code of the Software with an escrow agent, to be released to Licensee upon bankruptcy or failure to support the Software.",
        "Post-Termination Services":
            "Upon termination or expiration, the parties shall continue to perform transition services, fulfill outstanding orders, and return or destroy confidential information, and the following sections shall survive.",
        "Audit Rights":
            "Company shall keep complete and accurate books and records, and the other party may audit and inspect such records during normal business hours upon reasonable notice.",
        "Uncapped Liability":
            "The limitations of liability shall not apply to a party's indemnification obligations, breach of confidentiality, gross negligence or willful misconduct.",
        "Cap on Liability":
            "In no event shall either party's aggregate liability under this Agreement exceed the total fees paid in the twelve months preceding the claim, and neither party shall be liable for indirect or consequential damages.",
        "Liquidated Damages":
            "If a party breaches this obligation, it shall pay the other party liquidated damages in the amount of a fixed sum, which the parties agree is a reasonable estimate and not a penalty.",
        "Warranty Duration":
            "Supplier warrants that the Products will be free from defects in materials and workmanship for a period of twelve months from the date of delivery.",
        "Insurance":
            "Each party shall maintain, at its own expense, commercial general liability insurance with limits of not less than one million dollars per occurrence and name the other party as an additional insured.",
        "Covenant Not to Sue":
            "Licensee agrees not to challenge the validity of the licensed patents and covenants not to sue Licensor or its customers for infringement.",
        "Third Party Beneficiary":
            "The Indemnified Parties are intended third party beneficiaries of this section and may enforce its provisions directly against the parties.",
    ]

    /// MTS-Dialog's 20 section types (abachaa/MTS-Dialog, CC BY 4.0) with the heading each code stands for.
    public static let mtsSectionTypes: [(code: String, name: String)] = [
        ("GENHX", "history of present illness"), ("PASTMEDICALHX", "past medical history"),
        ("MEDICATIONS", "medications"), ("ALLERGY", "allergies"), ("ROS", "review of systems"),
        ("FAM/SOCHX", "family history and social history"), ("CC", "chief complaint"),
        ("PASTSURGICAL", "past surgical history"), ("ASSESSMENT", "assessment"), ("EXAM", "physical examination"),
        ("DIAGNOSIS", "diagnosis"), ("DISPOSITION", "disposition"), ("PLAN", "plan"),
        ("EDCOURSE", "emergency department course"), ("IMMUNIZATIONS", "immunizations"), ("IMAGING", "imaging"),
        ("GYNHX", "gynecologic history"), ("PROCEDURES", "procedures"), ("OTHER_HISTORY", "other history"),
        ("LABS", "laboratory results"),
    ]

    /// A typical section of each MTS-Dialog type, written for Dojo as a second zero-shot prompt.
    public static let mtsSectionExamples: [String: String] = [
        "GENHX":
            "The patient is a 45-year-old woman who presents today with a three-day history of cough and fever. She reports the symptoms started suddenly and are getting worse.",
        "PASTMEDICALHX":
            "She has a history of hypertension, diabetes, and asthma. Past medical history is significant for high cholesterol.",
        "MEDICATIONS":
            "She takes lisinopril 10 mg daily, metformin twice a day, and an albuterol inhaler as needed.",
        "ALLERGY":
            "No known drug allergies. He is allergic to penicillin, which causes a rash.",
        "ROS":
            "Denies chest pain, shortness of breath, nausea, vomiting, fever or chills. All other systems reviewed and negative.",
        "FAM/SOCHX":
            "Her mother had breast cancer and her father has heart disease. She is married, works as a teacher, does not smoke and drinks alcohol occasionally.",
        "CC":
            "Chest pain.",
        "PASTSURGICAL":
            "She had an appendectomy as a child and a cholecystectomy in 2010. Prior surgeries include a knee replacement.",
        "ASSESSMENT":
            "Symptoms are most consistent with a viral upper respiratory infection. Likely migraine headache.",
        "EXAM":
            "Lungs are clear to auscultation bilaterally, heart has regular rate and rhythm, abdomen is soft and nontender.",
        "DIAGNOSIS":
            "Acute bronchitis. Type 2 diabetes mellitus.",
        "DISPOSITION":
            "The patient was discharged home in stable condition.",
        "PLAN":
            "We will start antibiotics, order a chest x-ray, and follow up in two weeks.",
        "EDCOURSE":
            "In the emergency department the patient was given IV fluids and pain medication, and her symptoms improved.",
        "IMMUNIZATIONS":
            "Her immunizations are up to date, including the flu shot and tetanus vaccine.",
        "IMAGING":
            "The chest x-ray showed no acute findings. MRI of the knee revealed a meniscal tear.",
        "GYNHX":
            "Her last menstrual period was two weeks ago. She has two children, regular periods, and her last Pap smear was normal.",
        "PROCEDURES":
            "A laceration repair was performed with sutures under local anesthesia.",
        "OTHER_HISTORY":
            "She was adopted and her family history is unknown. Other history is noncontributory.",
        "LABS":
            "Blood tests showed a hemoglobin of 12 and a normal white blood cell count; the urinalysis was negative.",
    ]

    /// The medical specialties MTSamples files notes under (mtsamples.com via the Kaggle scrape, CC0).
    public static let mtsamplesSpecialties: [String] = [
        "Allergy / Immunology",
        "Autopsy",
        "Bariatrics",
        "Cardiovascular / Pulmonary",
        "Chiropractic",
        "Consult - History and Phy.",
        "Cosmetic / Plastic Surgery",
        "Dentistry",
        "Dermatology",
        "Diets and Nutritions",
        "Discharge Summary",
        "ENT - Otolaryngology",
        "Emergency Room Reports",
        "Endocrinology",
        "Gastroenterology",
        "General Medicine",
        "Hematology - Oncology",
        "Hospice - Palliative Care",
        "IME-QME-Work Comp etc.",
        "Lab Medicine - Pathology",
        "Letters",
        "Nephrology",
        "Neurology",
        "Neurosurgery",
        "Obstetrics / Gynecology",
        "Office Notes",
        "Ophthalmology",
        "Orthopedic",
        "Pain Management",
        "Pediatrics - Neonatal",
        "Physical Medicine - Rehab",
        "Podiatry",
        "Psychiatry / Psychology",
        "Radiology",
        "Rheumatology",
        "SOAP / Chart / Progress Notes",
        "Sleep Medicine",
        "Speech - Language",
        "Surgery",
        "Urology",
    ]
}
